#include "eval/baselines.h"

namespace pdiff {

namespace {
torch::Tensor pick(const torch::Tensor& originals, int64_t n, torch::Generator& gen) {
  auto idx = torch::randint(0, originals.size(0), {n}, gen, torch::kInt64);
  return originals.index_select(0, idx);
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
    rows.push_back(originals.index_select(0, idx).mean(0));
  }
  return torch::stack(rows);
}

torch::Tensor gaussian_fit(const torch::Tensor& originals, int64_t n, torch::Generator& gen) {
  auto mean = originals.mean(0), std = originals.size(0) > 1 ? originals.std(0) : torch::zeros_like(mean);
  return mean + std * torch::randn({n, originals.size(1)}, gen, originals.options());
}

torch::Tensor weight_average(const torch::Tensor& originals) { return originals.mean(0, true); }

}  // namespace pdiff
