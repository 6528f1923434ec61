// Deterministic mini-batches: the order of epoch e depends only on (seed, e) and the
// augmentation of iteration i only on (seed, i), so any iteration can be regenerated and an
// interrupted run resumes exactly where it stopped. The augmentation is the dataset's resolved
// policy (DataSplits::flip / crop_padding, from data.augment).
#pragma once
#include <torch/torch.h>

#include "data/dataset.h"

namespace pdiff {

class BatchSchedule {
 public:
  // No augment flag: the policy lives in `data`, so a caller cannot disagree with data.augment.
  BatchSchedule(const DataSplits& data, int64_t batch, uint64_t seed);
  // Full batches per epoch (the last partial batch is dropped).
  int64_t iters_per_epoch() const { return iters_per_epoch_; }
  // Images (augmented, in the model's input format is the caller's job) and labels of the
  // global iteration `it` (epoch = it / iters_per_epoch).
  std::pair<torch::Tensor, torch::Tensor> batch(int64_t it);

 private:
  const DataSplits& data_;
  int64_t batch_, iters_per_epoch_;
  uint64_t seed_;
  int64_t perm_epoch_ = -1;
  torch::Tensor perm_;
};

// The seed of data stream `stream` of a run: stream 0 (base training) is the run's seed
// itself; the zoo's streams are others, so the zoo does not replay base training's batches.
// Config seeds are < 2^31, so streams never collide with another seed's stream 0.
inline uint64_t data_stream_seed(uint64_t seed, uint64_t stream) { return seed + (stream << 32); }
// The images activation matching compares networks on: above every seeds-mode run's stream (2 + k).
constexpr uint64_t kAlignmentStream = uint64_t{1} << 31;
// The images generate.repair measures units on (eval/unit_repair.h).
constexpr uint64_t kRepairStream = kAlignmentStream + 1;

// A CPU generator seeded by a mix of the given numbers.
torch::Generator make_generator(uint64_t a, uint64_t b = 0, uint64_t c = 0);

}  // namespace pdiff
