#include "models/convnext.h"

#include "core/error.h"

namespace pdiff {

LayerNorm2dImpl::LayerNorm2dImpl(int64_t channels, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({channels}));
  bias = register_parameter("bias", torch::zeros({channels}));
}

torch::Tensor LayerNorm2dImpl::forward(torch::Tensor x) {
  x = x.permute({0, 2, 3, 1});                                              // (B, H, W, C)
  x = torch::layer_norm(x, {weight.size(0)}, weight, bias, eps_);
  return x.permute({0, 3, 1, 2});                                           // (B, C, H, W)
}

// Chain: depthwise 7x7 conv (then channels last: B, H, W, C), LayerNorm, fc1+GELU, fc2,
// layer scale (back to B, C, H, W); then chain + input.
class ConvNextBlockImpl : public ResidualBlockImpl {
 public:
  ConvNextBlockImpl(int64_t dim, const ConvNextConfig& c) {
    conv_dw = register_module(
        "conv_dw", torch::nn::Conv2d(torch::nn::Conv2dOptions(dim, dim, 7).padding(3).groups(dim)));
    norm = register_module("norm",
                           torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(c.norm_eps)));
    auto mlp = register_module("mlp", std::make_shared<torch::nn::Module>());
    fc1 = mlp->register_module("fc1", torch::nn::Linear(dim, c.mlp_ratio * dim));
    fc2 = mlp->register_module("fc2", torch::nn::Linear(c.mlp_ratio * dim, dim));
    gamma = register_parameter("gamma", torch::full({dim}, c.layer_scale_init));
  }
  int64_t num_ops() const override { return 5; }
  torch::Tensor op(int64_t i, torch::Tensor h) override {
    switch (i) {
      case 0: return conv_dw(h).permute({0, 2, 3, 1});   // (B, H, W, C)
      case 1: return norm(h);
      case 2: return torch::gelu(fc1(h));                // (B, H, W, 4C)
      case 3: return fc2(h);                             // (B, H, W, C)
      default: return (h * gamma).permute({0, 3, 1, 2});  // (B, C, H, W)
    }
  }
  std::string op_params(int64_t i) const override {
    static const char* names[] = {"conv_dw.", "norm.", "mlp.fc1.", "mlp.fc2.", "gamma"};
    return names[i];
  }
  torch::Tensor merge(const torch::Tensor& chain, const torch::Tensor& x) override { return x + chain; }

 private:
  torch::nn::Conv2d conv_dw{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  torch::Tensor gamma;
};

ConvNextImpl::ConvNextImpl(const ClassifierSpec& spec, const ConvNextConfig& c) {
  using torch::nn::Conv2d;
  using torch::nn::Conv2dOptions;
  // The stem and three downsamplings halve the image four times.
  check(spec.image_size >= 16, "model: convnext_tiny needs images of at least 16 px, got " +
                                   std::to_string(spec.image_size) + " px");
  stem = register_module(
      "stem", torch::nn::Sequential(Conv2d(Conv2dOptions(spec.in_channels, c.dims[0], c.stem_patch)
                                               .stride(c.stem_patch)),
                                    LayerNorm2d(c.dims[0], c.norm_eps)));
  auto stages = register_module("stages", torch::nn::ModuleList());
  for (int s = 0; s < 4; ++s) {
    auto stage = std::make_shared<torch::nn::Module>();
    stages->push_back(stage);
    const std::string stage_prefix = "stages." + std::to_string(s) + ".";
    torch::nn::Sequential down{nullptr};
    if (s > 0)
      down = stage->register_module(
          "downsample", torch::nn::Sequential(LayerNorm2d(c.dims[s - 1], c.norm_eps),
                                              Conv2d(Conv2dOptions(c.dims[s - 1], c.dims[s], 2).stride(2))));
    auto list = stage->register_module("blocks", torch::nn::ModuleList());
    for (int64_t b = 0; b < c.depths[s]; ++b) {
      auto block = std::make_shared<ConvNextBlockImpl>(c.dims[s], c);
      list->push_back(block);
      blocks_.push_back({b == 0 ? down : nullptr, block, stage_prefix,
                         stage_prefix + "blocks." + std::to_string(b) + "."});
    }
  }
  // A plain holder so the names read head.norm.* and head.fc.*, as in timm.
  auto head = register_module("head", std::make_shared<torch::nn::Module>());
  head_norm = head->register_module(
      "norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.dims[3]}).eps(c.norm_eps)));
  head_fc = head->register_module("fc", torch::nn::Linear(c.dims[3], spec.num_classes));

  // timm initialisation: conv and Linear weights N(0, 0.02), biases zero.
  torch::NoGradGuard no_grad;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<Conv2d>()) {
      conv->weight.normal_(0.0, 0.02);
      conv->bias.zero_();
    } else if (auto* lin = m->as<torch::nn::Linear>()) {
      lin->weight.normal_(0.0, 0.02);
      lin->bias.zero_();
    }
  }
}

torch::Tensor ConvNextImpl::forward_stage(int64_t i, torch::Tensor x) {
  if (i == 0) return stem->forward(x);                // (B, 96, H/2, W/2)
  if (i <= static_cast<int64_t>(blocks_.size())) {
    auto& ref = blocks_[i - 1];
    if (ref.downsample) x = ref.downsample->forward(x);  // (B, 2C, H/2, W/2)
    return ref.block->forward(x);  // stage s: (B, dims[s], H/2^(s+1), W/2^(s+1))
  }
  return head_fc(head_norm(x.mean({2, 3})));           // (B, 768) -> (B, classes)
}

std::vector<std::string> ConvNextImpl::stage_params(int64_t i) const {
  if (i == 0) return {"stem."};
  if (i <= static_cast<int64_t>(blocks_.size())) {
    const auto& ref = blocks_[i - 1];
    if (ref.downsample) return {ref.stage_prefix + "downsample.", ref.block_prefix};
    return {ref.block_prefix};
  }
  return {"head."};
}

// A stage whose downsample is selected starts before the block: no cache inside it.
bool ConvNextImpl::prepare_fast_tail(int64_t start, const std::vector<std::string>& selected) {
  const int64_t b = start - 1;
  if (b < 0 || b >= static_cast<int64_t>(blocks_.size())) return false;
  const auto& ref = blocks_[b];
  if (ref.downsample && selects_under(selected, ref.stage_prefix + "downsample.")) return false;
  return tail_.prepare(*ref.block, ref.block_prefix, selected);
}

torch::Tensor ConvNextImpl::fast_tail_cache(int64_t start, const torch::Tensor& h) {
  auto& ref = blocks_[start - 1];
  return tail_.cache(*ref.block, ref.downsample ? ref.downsample->forward(h) : h);
}

torch::Tensor ConvNextImpl::fast_tail_forward(int64_t start, const torch::Tensor& cached) {
  return forward_range(tail_.finish(*blocks_[start - 1].block, cached), start + 1, num_stages());
}

}  // namespace pdiff
