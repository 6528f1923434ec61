#include "models/vit.h"

#include <cmath>

#include "core/error.h"

namespace pdiff {

// The block's parts: a namespace of their own, not an anonymous one, because VitBlockImpl
// (declared in the header) holds them.
namespace vit_parts {

torch::nn::LayerNorm layer_norm(int64_t dim, double eps) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(eps));
}

// Multi-head self-attention with a fused qkv projection.
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int64_t dim, int64_t heads) : heads_(heads) {
    qkv = register_module("qkv", torch::nn::Linear(dim, 3 * dim));
    proj = register_module("proj", torch::nn::Linear(dim, dim));
  }
  torch::Tensor forward(torch::Tensor x) {
    const int64_t B = x.size(0), N = x.size(1), C = x.size(2), hd = C / heads_;
    auto qkv_ = qkv(x).reshape({B, N, 3, heads_, hd}).permute({2, 0, 3, 1, 4});  // (3, B, h, N, hd)
    auto q = qkv_[0], k = qkv_[1], v = qkv_[2];                                  // (B, h, N, hd)
    auto attn = torch::matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt(double(hd)));
    attn = attn.softmax(-1);                                                     // (B, h, N, N)
    auto y = torch::matmul(attn, v).transpose(1, 2).reshape({B, N, C});          // (B, N, C)
    return proj(y);
  }

 private:
  int64_t heads_;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
};
TORCH_MODULE(Attention);

// fc1 -> GELU -> fc2.
class FeedForwardImpl : public torch::nn::Module {
 public:
  FeedForwardImpl(int64_t dim, int64_t hidden) {
    fc1 = register_module("fc1", torch::nn::Linear(dim, hidden));
    fc2 = register_module("fc2", torch::nn::Linear(hidden, dim));
  }
  torch::Tensor forward(torch::Tensor x) { return fc2(torch::gelu(fc1(x))); }

 private:
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(FeedForward);

}  // namespace vit_parts

class VitBlockImpl : public torch::nn::Module {
 public:
  VitBlockImpl(const VitConfig& c) {
    norm1 = register_module("norm1", vit_parts::layer_norm(c.embed_dim, c.norm_eps));
    attn = register_module("attn", vit_parts::Attention(c.embed_dim, c.num_heads));
    norm2 = register_module("norm2", vit_parts::layer_norm(c.embed_dim, c.norm_eps));
    mlp = register_module("mlp", vit_parts::FeedForward(c.embed_dim, c.mlp_ratio * c.embed_dim));
  }
  // (B, 1 + N, D) -> (B, 1 + N, D); the two residual halves are separate stages.
  torch::Tensor attention_half(const torch::Tensor& x) { return x + attn(norm1(x)); }
  torch::Tensor mlp_half(const torch::Tensor& x) { return x + mlp(norm2(x)); }

 private:
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  vit_parts::Attention attn{nullptr};
  vit_parts::FeedForward mlp{nullptr};
};

VitImpl::VitImpl(const ClassifierSpec& spec, const VitConfig& c) {
  const int64_t patch = spec.vit_patch;
  check(patch > 0 && spec.image_size % patch == 0,
        "model.vit_patch = " + std::to_string(patch) + " does not divide the image size " +
            std::to_string(spec.image_size) + " px; choose a patch size that divides it (4 for 28 or 32 px, "
            "8 or 12 for 96 px)");
  check(c.embed_dim % c.num_heads == 0, "internal: ViT width must be divisible by the heads");
  const int64_t grid = spec.image_size / patch, D = c.embed_dim;
  auto patch_embed = register_module("patch_embed", std::make_shared<torch::nn::Module>());
  patch_embed_proj = patch_embed->register_module(
      "proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(spec.in_channels, D, patch)
                                    .stride(patch)));
  // timm initialisation: cls_token N(0, 1e-6), pos_embed and Linear weights N(0, 0.02),
  // zero Linear biases; LayerNorms start at weight 1, bias 0.
  cls_token = register_parameter("cls_token", torch::randn({1, 1, D}) * 1e-6);
  pos_embed = register_parameter("pos_embed", torch::randn({1, 1 + grid * grid, D}) * 0.02);
  auto blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.depth; ++i) {
    blocks_.push_back(std::make_shared<VitBlockImpl>(c));
    blocks->push_back(blocks_.back());
  }
  norm = register_module("norm", vit_parts::layer_norm(D, c.norm_eps));
  head = register_module("head", torch::nn::Linear(D, spec.num_classes));

  torch::NoGradGuard no_grad;
  for (auto& m : modules(/*include_self=*/false))
    if (auto* lin = m->as<torch::nn::Linear>()) {
      lin->weight.normal_(0.0, 0.02);
      lin->bias.zero_();
    }
}

torch::Tensor VitImpl::forward_stage(int64_t i, torch::Tensor x) {
  if (i == 0) {
    x = patch_embed_proj(x).flatten(2).transpose(1, 2);                 // (B, N, D)
    x = torch::cat({cls_token.expand({x.size(0), -1, -1}), x}, 1);      // (B, 1 + N, D)
    return x + pos_embed;                                               // (B, 1 + N, D)
  }
  if (i <= 2 * static_cast<int64_t>(blocks_.size())) {
    auto& block = *blocks_[(i - 1) / 2];
    return i % 2 == 1 ? block.attention_half(x) : block.mlp_half(x);   // (B, 1 + N, D)
  }
  return head(norm(x).select(1, 0));                                    // (B, D) -> (B, classes)
}

std::vector<std::string> VitImpl::stage_params(int64_t i) const {
  if (i == 0) return {"patch_embed.", "cls_token", "pos_embed"};
  if (i <= 2 * static_cast<int64_t>(blocks_.size())) {
    const std::string block = "blocks." + std::to_string((i - 1) / 2) + ".";
    if (i % 2 == 1) return {block + "norm1.", block + "attn."};
    return {block + "norm2.", block + "mlp."};
  }
  return {"norm.", "head."};
}

}  // namespace pdiff
