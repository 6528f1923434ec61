#include "gen/standardizer.h"

#include "core/error.h"

namespace pdiff {

Standardizer::Standardizer(const torch::Tensor& params, const ParamLayout& layout, int64_t pad_multiple,
                           bool centre_per_coordinate) {
  check(params.dim() == 2 && params.size(1) == layout.dim(), "standardizer: params do not match the layout");
  const int64_t d = layout.dim();
  mean_ = torch::empty({d});
  std_ = torch::empty({d});
  for (const auto& e : layout.entries()) {
    // One tensor at a time in float64: no double copy of the whole zoo.
    auto block = params.slice(1, e.offset, e.offset + e.numel).to(torch::kFloat64);
    double std = 0;
    if (centre_per_coordinate) {
      auto mean = block.mean(0);
      mean_.slice(0, e.offset, e.offset + e.numel).copy_(mean);
      std = block.numel() > 1 ? (block - mean).pow(2).mean().sqrt().item<double>() : 0.0;
    } else {
      mean_.slice(0, e.offset, e.offset + e.numel).fill_(block.mean().item<double>());
      std = block.numel() > 1 ? block.std().item<double>() : 0.0;
    }
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
