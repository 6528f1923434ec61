// Vision Transformer, ViT-Tiny sized for 28-32 px images: 4x4 patches, width 192, 12 pre-norm
// blocks with 3 heads and MLP ratio 4, class token, learned position embedding. Parameter
// names follow timm (patch_embed.proj, cls_token, pos_embed, blocks.i.*, norm, head).
#pragma once
#include "models/classifier.h"

namespace pdiff {

struct VitConfig {
  int64_t patch_size = 4;
  int64_t embed_dim = 192;
  int64_t depth = 12;
  int64_t num_heads = 3;
  int64_t mlp_ratio = 4;
  double norm_eps = 1e-6;
};

class VitBlockImpl;  // pre-norm transformer block, defined in vit.cpp

class VitImpl : public ClassifierImpl {
 public:
  // Throws pdiff::Error when spec.image_size is not divisible by the patch size.
  explicit VitImpl(const ClassifierSpec& spec, const VitConfig& config = {});
  // Stages: embedding (patch_embed + cls_token + pos_embed), one per block,
  // head (norm + class token + head).
  int64_t num_stages() const override { return static_cast<int64_t>(blocks_.size()) + 2; }
  torch::Tensor forward_stage(int64_t i, torch::Tensor x) override;
  std::vector<std::string> stage_params(int64_t i) const override;

 private:
  torch::nn::Conv2d patch_embed_proj{nullptr};  // registered as patch_embed.proj
  torch::Tensor cls_token;                       // (1, 1, D)
  torch::Tensor pos_embed;                       // (1, 1 + N, D), N = (image_size / patch)^2
  std::vector<std::shared_ptr<VitBlockImpl>> blocks_;
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear head{nullptr};
};

}  // namespace pdiff
