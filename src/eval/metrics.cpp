#include "eval/metrics.h"

#include <limits>

#include "eval/distance.h"

namespace pdiff {

AccuracyStats accuracy_stats(const torch::Tensor& accuracy) {
  auto a = accuracy.to(torch::kFloat64).flatten();
  AccuracyStats s;
  s.n = a.numel();
  if (s.n == 0) return s;
  s.best = a.max().item<double>();
  s.mean = a.mean().item<double>();
  // The true median (mean of the two middle values for even n), not torch's lower median.
  auto sorted = std::get<0>(a.sort());
  s.median = s.n % 2 ? sorted[s.n / 2].item<double>()
                     : 0.5 * (sorted[s.n / 2 - 1].item<double>() + sorted[s.n / 2].item<double>());
  s.min = a.min().item<double>();
  s.std = s.n > 1 ? a.std().item<double>() : 0.0;
  return s;
}

torch::Tensor wrong_sets(const torch::Tensor& predictions, const torch::Tensor& labels) {
  return predictions.to(torch::kInt64).ne(labels.unsqueeze(0));
}

torch::Tensor iou_matrix(const torch::Tensor& wrong_a, const torch::Tensor& wrong_b) {
  auto a = wrong_a.to(torch::kFloat32), b = wrong_b.to(torch::kFloat32);
  auto inter = torch::mm(a, b.t());                                     // (A, B), exact in fp32 below 2^24
  auto uni = a.sum(1, true) + b.sum(1).unsqueeze(0) - inter;
  return torch::where(uni > 0, inter / uni.clamp_min(1), torch::ones_like(inter)).to(torch::kFloat64);
}

double off_diagonal_mean(const torch::Tensor& square) {
  const int64_t n = square.size(0);
  if (n < 2) return std::numeric_limits<double>::quiet_NaN();
  return ((square.sum() - square.diagonal().sum()) / double(n * (n - 1))).item<double>();
}

torch::Tensor row_max(const torch::Tensor& matrix, bool exclude_diagonal) {
  auto m = matrix.clone();
  if (exclude_diagonal) m.diagonal().fill_(-std::numeric_limits<double>::infinity());
  return std::get<0>(m.max(1));
}

torch::Tensor row_min(const torch::Tensor& distances, bool exclude_diagonal) {
  auto d = distances.clone();
  if (exclude_diagonal) d.diagonal().fill_(std::numeric_limits<double>::infinity());
  return std::get<0>(d.min(1));
}

}  // namespace pdiff
