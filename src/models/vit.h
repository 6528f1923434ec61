// Vision Transformer, ViT-Tiny sized for 28-32 px images: 4x4 patches (model.vit_patch), width 192, 12 pre-norm
// blocks with 3 heads and MLP ratio 4, class token, learned position embedding. Parameter
// names follow timm (patch_embed.proj, cls_token, pos_embed, blocks.i.*, norm, head).
#pragma once
#include "models/classifier.h"

namespace pdiff {

struct VitConfig {
  int64_t embed_dim = 192;
  int64_t depth = 12;
  int64_t num_heads = 3;
  int64_t mlp_ratio = 4;
  double norm_eps = 1e-6;
};

class VitBlockImpl;  // pre-norm transformer block, defined in vit.cpp

class VitImpl : public ClassifierImpl {
 public:
  // Throws pdiff::Error when spec.image_size is not divisible by spec.vit_patch.
  explicit VitImpl(const ClassifierSpec& spec, const VitConfig& config = {});
  // Stages: embedding (patch_embed + cls_token + pos_embed), two per block (attention half:
  // x + attn(norm1(x)); MLP half: x + mlp(norm2(x))), head (norm + class token + head).
  int64_t num_stages() const override { return 2 * static_cast<int64_t>(blocks_.size()) + 2; }
  torch::Tensor forward_stage(int64_t i, torch::Tensor x) override;
  std::vector<std::string> stage_params(int64_t i) const override;
  bool supports_split_batches() const override { return true; }  // LayerNorm: per token
  // After the last attention every token is processed on its own and the head reads only the
  // class token, so a tail from there (e.g. the last norm2 and norm) runs on that token alone.
  bool prepare_fast_tail(int64_t start, const std::vector<std::string>& selected) override {
    return start >= num_stages() - 2;
  }
  torch::Tensor fast_tail_cache(int64_t start, const torch::Tensor& h) override { return h.slice(1, 0, 1); }
  torch::Tensor fast_tail_forward(int64_t start, const torch::Tensor& cached) override {
    return forward_range(cached, start, num_stages());
  }

 private:
  torch::nn::Conv2d patch_embed_proj{nullptr};  // registered as patch_embed.proj
  torch::Tensor cls_token;                       // (1, 1, D)
  torch::Tensor pos_embed;                       // (1, 1 + N, D), N = (image_size / patch)^2
  std::vector<std::shared_ptr<VitBlockImpl>> blocks_;
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear head{nullptr};
};

}  // namespace pdiff
