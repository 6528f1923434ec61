#include "models/mlp.h"

#include "core/error.h"

namespace pdiff {

MlpImpl::MlpImpl(const ClassifierSpec& spec) {
  std::vector<int64_t> widths = {spec.in_channels * spec.image_size * spec.image_size};
  for (int64_t h : spec.mlp_hidden) {
    check(h > 0, "model.mlp_hidden: every hidden width must be positive, got " +
                     std::to_string(h));
    widths.push_back(h);
  }
  widths.push_back(spec.num_classes);
  for (size_t i = 0; i + 1 < widths.size(); ++i)
    fcs_.push_back(register_module("fc" + std::to_string(i + 1),
                                   torch::nn::Linear(widths[i], widths[i + 1])));
}

torch::Tensor MlpImpl::forward_stage(int64_t i, torch::Tensor x) {
  if (i == 0) x = x.flatten(1);       // (B, C*H*W)
  x = fcs_[i](x);                     // (B, widths[i+1])
  return i + 1 < num_stages() ? torch::relu(x) : x;  // last stage: (B, classes) logits
}

std::vector<std::string> MlpImpl::stage_params(int64_t i) const {
  return {"fc" + std::to_string(i + 1) + "."};
}

}  // namespace pdiff
