#include "eval/baselines.h"

#include <algorithm>

#include "io/mapped_file.h"

namespace pdiff {

namespace {

// Rows idx of the originals; a zoo read from disk stays there (io/mapped_file.h).
torch::Tensor rows_of(const torch::Tensor& originals, const torch::Tensor& idx) {
  auto rows = originals.index_select(0, idx);
  if (is_mapped(originals))
    for (int64_t i = 0; i < idx.numel(); ++i) release_pages(originals[idx[i].item<int64_t>()]);
  return rows;
}

torch::Tensor pick(const torch::Tensor& originals, int64_t n, torch::Generator& gen) {
  return rows_of(originals, torch::randint(0, originals.size(0), {n}, gen, torch::kInt64));
}

// fn(first column, columns of all originals) on chunks of ~32 MB, each released after it.
template <class Fn>
void for_column_chunks(const torch::Tensor& originals, Fn fn) {
  const int64_t k = originals.size(0), d = originals.size(1);
  const int64_t width = std::max<int64_t>(1, (int64_t(1) << 23) / std::max<int64_t>(k, 1));
  for (int64_t c0 = 0; c0 < d; c0 += width) {
    const int64_t c1 = std::min(d, c0 + width);
    fn(c0, originals.slice(1, c0, c1));
    release_column_pages(originals, c0, c1);
  }
}

}  // namespace

torch::Tensor noise_standardised(const torch::Tensor& originals, const Standardizer& s, double sigma,
                                 int64_t n, torch::Generator& gen) {
  auto x = s.apply(pick(originals, n, gen));
  return s.invert(x + sigma * torch::randn(x.sizes(), gen, x.options()));
}

torch::Tensor noise_raw(const torch::Tensor& originals, double sigma, int64_t n, torch::Generator& gen) {
  auto x = pick(originals, n, gen);
  return x + sigma * torch::randn(x.sizes(), gen, x.options());
}

torch::Tensor average_of_random(const torch::Tensor& originals, int64_t k, int64_t n, torch::Generator& gen) {
  const int64_t count = originals.size(0);
  k = std::min(k, count);
  std::vector<torch::Tensor> rows;
  for (int64_t i = 0; i < n; ++i) {
    auto idx = torch::randperm(count, gen, torch::kInt64).slice(0, 0, k);
    rows.push_back(rows_of(originals, idx).mean(0));
  }
  return torch::stack(rows);
}

torch::Tensor gaussian_fit(const torch::Tensor& originals, int64_t n, torch::Generator& gen) {
  auto mean = torch::empty({originals.size(1)}, originals.options());
  auto std = torch::zeros({originals.size(1)}, originals.options());
  for_column_chunks(originals, [&](int64_t c0, const torch::Tensor& cols) {
    mean.slice(0, c0, c0 + cols.size(1)).copy_(cols.mean(0));
    if (originals.size(0) > 1) std.slice(0, c0, c0 + cols.size(1)).copy_(cols.std(0));
  });
  return mean + std * torch::randn({n, originals.size(1)}, gen, originals.options());
}

torch::Tensor weight_average(const torch::Tensor& originals) {
  auto mean = torch::empty({1, originals.size(1)}, originals.options());
  for_column_chunks(originals, [&](int64_t c0, const torch::Tensor& cols) {
    mean.slice(1, c0, c0 + cols.size(1)).copy_(cols.mean(0, true));
  });
  return mean;
}

}  // namespace pdiff
