#include "zoo/batch_schedule.h"

#include <ATen/CPUGeneratorImpl.h>

#include "core/error.h"

namespace pdiff {

torch::Generator make_generator(uint64_t a, uint64_t b, uint64_t c) {
  // splitmix64-style mixing keeps nearby seeds far apart.
  uint64_t x = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull) * 0xBF58476D1CE4E5B9ull ^
               (c + 0x85157AF5ull) * 0x94D049BB133111EBull;
  x ^= x >> 31;
  return at::make_generator<at::CPUGeneratorImpl>(x);
}

BatchSchedule::BatchSchedule(const DataSplits& data, int64_t batch, uint64_t seed)
    : data_(data), batch_(batch), seed_(seed) {
  iters_per_epoch_ = data.train.size() / batch;
  check(iters_per_epoch_ > 0, "batch size " + std::to_string(batch) + " is larger than the " +
                                  std::to_string(data.train.size()) + " training images");
}

std::pair<torch::Tensor, torch::Tensor> BatchSchedule::batch(int64_t it) {
  int64_t epoch = it / iters_per_epoch_, k = it % iters_per_epoch_;
  if (epoch != perm_epoch_) {
    auto gen = make_generator(seed_, 1, static_cast<uint64_t>(epoch));
    perm_ = torch::randperm(data_.train.size(), gen, torch::kInt64);
    perm_epoch_ = epoch;
  }
  auto idx = perm_.slice(0, k * batch_, (k + 1) * batch_);
  auto x = data_.train.images.index_select(0, idx);
  auto y = data_.train.labels.index_select(0, idx);
  if (data_.flip || data_.crop_padding > 0) {
    auto gen = make_generator(seed_, 2, static_cast<uint64_t>(it));
    x = augment(x, data_.flip, data_.crop_padding, gen);
  }
  return {x, y};
}

}  // namespace pdiff
