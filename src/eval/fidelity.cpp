#include "eval/fidelity.h"

#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "core/error.h"

namespace pdiff {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_square(const torch::Tensor& d, const char* what) {
  check(d.dim() == 2 && d.size(0) == d.size(1),
        std::string("fidelity: ") + what + " must be a square distance matrix, got " + c10::str(d.sizes()));
}

double mean_of(const torch::Tensor& flags) { return flags.to(torch::kFloat64).mean().item<double>(); }

}  // namespace

torch::Tensor knn_radii(const torch::Tensor& self_dist, int64_t k) {
  check_square(self_dist, "a set's distances");
  check(k >= 1, "fidelity: k must be at least 1, got " + std::to_string(k));
  const int64_t n = self_dist.size(0);
  if (n <= k) return torch::full({n}, kNaN, torch::kFloat64);
  auto d = self_dist.to(torch::kFloat64).clone();
  d.diagonal().fill_(std::numeric_limits<double>::infinity());
  return std::get<0>(d.kthvalue(k, 1));
}

double mode_threshold(const torch::Tensor& real_real, int64_t k) {
  auto r = knn_radii(real_real, k);
  return r.numel() > 0 && !r.isnan().any().item<bool>() ? r.median().item<double>() : kNaN;
}

int64_t count_modes(const torch::Tensor& self_dist, double threshold) {
  check_square(self_dist, "a set's distances");
  if (std::isnan(threshold)) return -1;
  const int64_t n = self_dist.size(0);
  auto near = (self_dist.to(torch::kFloat64) <= threshold).contiguous();
  auto a = near.accessor<bool, 2>();
  std::vector<int64_t> parent(n);
  std::iota(parent.begin(), parent.end(), 0);
  auto root = [&](int64_t i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
  };
  int64_t components = n;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) {
      if (!a[i][j]) continue;
      int64_t ri = root(i), rj = root(j);
      if (ri != rj) parent[ri] = rj, --components;
    }
  return components;
}

Fidelity fidelity(const torch::Tensor& real_real, const torch::Tensor& fake_fake, const torch::Tensor& fake_real,
                  int64_t k) {
  check_square(real_real, "real_real");
  check_square(fake_fake, "fake_fake");
  const int64_t n_real = real_real.size(0), n_fake = fake_fake.size(0);
  check(fake_real.dim() == 2 && fake_real.size(0) == n_fake && fake_real.size(1) == n_real,
        "fidelity: fake_real must be (" + std::to_string(n_fake) + ", " + std::to_string(n_real) + "), got " +
            c10::str(fake_real.sizes()));
  Fidelity f;
  const auto r = knn_radii(real_real, k);  // (K) each original's ball
  if (n_real <= k || n_fake == 0) {
    f.precision = f.recall = f.density = f.coverage = kNaN;
    f.modes = n_fake == 0 ? 0 : -1;
    return f;
  }
  const auto fr = fake_real.to(torch::kFloat64);
  const auto inside = fr <= r.unsqueeze(0);  // (M, K): model j inside original i's ball
  f.precision = mean_of(inside.any(1));
  f.density = inside.sum().item<int64_t>() / double(k * n_fake);
  f.coverage = mean_of(std::get<0>(fr.min(0)) <= r);
  if (n_fake > k) {
    const auto s = knn_radii(fake_fake, k);  // (M) each model's ball among its own group
    f.recall = mean_of((fr <= s.unsqueeze(1)).any(0));
  } else {
    f.recall = kNaN;
  }
  f.modes = count_modes(fake_fake, mode_threshold(real_real, k));
  return f;
}

Fidelity fidelity_of_reference(const torch::Tensor& real_real, int64_t k) {
  check_square(real_real, "real_real");
  auto others = real_real.to(torch::kFloat64).clone();
  others.diagonal().fill_(std::numeric_limits<double>::infinity());
  return fidelity(real_real, real_real, others, k);
}

}  // namespace pdiff
