#include "eval/barrier.h"

#include <algorithm>

namespace pdiff {

std::vector<std::pair<int64_t, int64_t>> barrier_pairs(int64_t k, int64_t count) {
  std::vector<std::pair<int64_t, int64_t>> pairs;
  const int64_t half = k / 2;
  for (int64_t i = 0; i < std::min(count, half); ++i) pairs.emplace_back(i, i + half);
  return pairs;
}

std::vector<BarrierCurve> accuracy_barriers(const torch::Tensor& params, const torch::Tensor& accuracy,
                                            const std::vector<std::pair<int64_t, int64_t>>& pairs,
                                            const std::function<torch::Tensor(const torch::Tensor&)>& accuracy_of) {
  const std::vector<double> interior = {0.25, 0.5, 0.75};
  std::vector<BarrierCurve> curves;
  if (pairs.empty()) return curves;
  std::vector<torch::Tensor> rows;
  for (const auto& [a, b] : pairs) {
    const torch::Tensor x = params[a].to(torch::kFloat64), y = params[b].to(torch::kFloat64);
    for (double t : interior) rows.push_back(((1 - t) * x + t * y).to(torch::kFloat32));
  }
  const torch::Tensor measured = accuracy_of(torch::stack(rows)).to(torch::kFloat64).cpu();
  for (size_t p = 0; p < pairs.size(); ++p) {
    BarrierCurve c;
    c.a = pairs[p].first;
    c.b = pairs[p].second;
    const double ends[2] = {accuracy[c.a].item<double>(), accuracy[c.b].item<double>()};
    c.alpha = {0.0};
    c.accuracy = {ends[0]};
    for (size_t i = 0; i < interior.size(); ++i) {
      c.alpha.push_back(interior[i]);
      c.accuracy.push_back(measured[static_cast<int64_t>(p * interior.size() + i)].item<double>());
    }
    c.alpha.push_back(1.0);
    c.accuracy.push_back(ends[1]);
    for (size_t i = 0; i < c.alpha.size(); ++i)
      c.barrier = std::max(c.barrier, (1 - c.alpha[i]) * ends[0] + c.alpha[i] * ends[1] - c.accuracy[i]);
    curves.push_back(c);
  }
  return curves;
}

}  // namespace pdiff
