#include "gen/standardizer.h"

#include <cmath>

#include "core/error.h"
#include "io/mapped_file.h"

namespace pdiff {

Standardizer::Standardizer(const torch::Tensor& params, const ParamLayout& layout, int64_t pad_multiple,
                           bool centre_per_coordinate) {
  check(params.dim() == 2 && params.size(1) == layout.dim(), "standardizer: params do not match the layout");
  const int64_t k = params.size(0), d = layout.dim();
  // Two passes over chunks of rows (~64 MB in float64 each), each released after use: neither a
  // float64 copy of the zoo nor all of a zoo on disk in memory (io/mapped_file.h).
  const int64_t chunk = std::max<int64_t>(1, (int64_t(1) << 23) / std::max<int64_t>(d, 1));
  auto column_sums = [&](auto&& value_of) {
    auto sums = torch::zeros({d}, torch::kFloat64);
    for (int64_t r = 0; r < k; r += chunk) {
      const torch::Tensor rows = params.slice(0, r, std::min(r + chunk, k));
      sums += value_of(rows.to(torch::kFloat64)).sum(0);
      release_pages(rows);
    }
    return sums;
  };
  const torch::Tensor mean = column_sums([](const torch::Tensor& x) { return x; }) / static_cast<double>(k);
  auto centre = mean.clone();
  if (!centre_per_coordinate)
    for (const auto& e : layout.entries()) {
      auto t = centre.slice(0, e.offset, e.offset + e.numel);
      t.fill_(t.mean().item<double>());
    }
  const torch::Tensor squares = column_sums([&](const torch::Tensor& x) { return (x - centre).pow(2); });
  mean_ = centre.to(torch::kFloat32);
  std_ = torch::empty({d});
  for (const auto& e : layout.entries()) {
    const double n = static_cast<double>(k * e.numel);
    const double ss = squares.slice(0, e.offset, e.offset + e.numel).sum().item<double>();
    // Per coordinate: the RMS deviation; per tensor: the sample std of all its values.
    const double std = n > 1 ? std::sqrt(ss / (centre_per_coordinate ? n : n - 1)) : 0.0;
    // A tensor that never varies keeps scale 1 rather than dividing by ~0.
    std_.slice(0, e.offset, e.offset + e.numel).fill_(std > 1e-8 ? std : 1.0);
  }
  padded_dim_ = (d + pad_multiple - 1) / pad_multiple * pad_multiple;
}

torch::Tensor Standardizer::apply(const torch::Tensor& params) const {
  check(params.dim() == 2 && params.size(1) == dim(),
        "standardizer: expected (M, " + std::to_string(dim()) + ") parameters, got " + c10::str(params.sizes()));
  auto x = (params.to(torch::kFloat32) - mean_) / std_;
  return torch::constant_pad_nd(x, {0, padded_dim_ - dim()}, 0.0);
}

torch::Tensor Standardizer::invert(const torch::Tensor& x) const {
  check(x.dim() == 2 && x.size(1) >= dim(), "standardizer: vectors too short to invert");
  return x.slice(1, 0, dim()) * std_ + mean_;
}

void Standardizer::save(DictFile& f, const std::string& prefix) const {
  f.set_tensor(prefix + ".mean", mean_);
  f.set_tensor(prefix + ".std", std_);
  f.set(prefix + ".padded_dim", padded_dim_);
}

Standardizer Standardizer::load(const DictFile& f, const std::string& prefix) {
  Standardizer s;
  s.mean_ = f.tensor(prefix + ".mean");
  s.std_ = f.tensor(prefix + ".std");
  s.padded_dim_ = f.integer(prefix + ".padded_dim");
  check(s.mean_.sizes() == s.std_.sizes() && s.padded_dim_ >= s.mean_.numel(),
        f.path() + ": inconsistent standardisation statistics");
  return s;
}

}  // namespace pdiff
