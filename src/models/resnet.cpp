#include "models/resnet.h"

#include "core/error.h"
#include "kernels/close_calls.h"
#include "kernels/conv3x3_small.h"
#include "kernels/dispatch.h"

namespace pdiff {

namespace {

using torch::nn::BatchNorm2d;
using torch::nn::Conv2d;
using torch::nn::Conv2dOptions;

Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  return Conv2d(Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}

// downsample.0 (1x1 conv, stride) and downsample.1 (BatchNorm), as in torchvision.
torch::nn::Sequential downsample(int64_t in, int64_t out, int64_t stride) {
  return torch::nn::Sequential(conv(in, out, 1, stride), BatchNorm2d(out));
}

// The shortcut's conv and batch norm, the norm's statistics shared across a split batch.
torch::Tensor downsample_forward(torch::nn::SequentialImpl& down, const torch::Tensor& x) {
  return batch_norm_over_split(down.ptr(0)->as<torch::nn::Conv2dImpl>()->forward(x),
                               *down.ptr(1)->as<torch::nn::BatchNorm2dImpl>());
}

// Two 3x3 convs; expansion 1. Chain: conv1, bn1+relu, conv2, bn2; then relu(chain + shortcut).
class BasicBlockImpl : public ResidualBlockImpl {
 public:
  static constexpr int64_t kExpansion = 1;
  BasicBlockImpl(int64_t in, int64_t planes, int64_t stride) {
    conv1 = register_module("conv1", conv(in, planes, 3, stride));
    bn1 = register_module("bn1", BatchNorm2d(planes));
    conv2 = register_module("conv2", conv(planes, planes, 3, 1));
    bn2 = register_module("bn2", BatchNorm2d(planes));
    if (stride != 1 || in != planes)
      down = register_module("downsample", downsample(in, planes, stride));
  }
  int64_t num_ops() const override { return 4; }
  torch::Tensor op(int64_t i, torch::Tensor h) override {
    switch (i) {
      case 0: return conv1(h);               // (B, planes, H/s, W/s)
      case 1: return torch::relu(batch_norm_over_split(h, *bn1));
      case 2: return conv2(h);
      default: return batch_norm_over_split(h, *bn2);
    }
  }
  std::string op_params(int64_t i) const override {
    static const char* names[] = {"conv1.", "bn1.", "conv2.", "bn2."};
    return names[i];
  }
  // conv2 on a 3x3 or 4x4 map (layer4 at 24-32 px) as Winograd GEMMs: 36 instead of 144
  // multiplies per channel pair at 4x4 (kernels/conv3x3_small.h).
  torch::Tensor fast_op(int64_t i, torch::Tensor h) override {
    const int64_t s = h.dim() == 4 ? h.size(2) : 0;
    if (i != 2 || (s != 3 && s != 4) || h.size(3) != s || h.requires_grad() || !cpu_kernels_apply(h)) return op(i, h);
    if (winograd_version_ != conv2->weight._version() || winograd_.size(0) != (s + 2) * (s + 2)) {
      winograd_ = winograd_weight(conv2->weight.detach(), s);
      winograd_version_ = conv2->weight._version();
    }
    const int64_t b = h.size(0), c = h.size(1);
    auto positions = h.permute({2, 3, 0, 1}).reshape({s * s, b, c});            // (s^2, B, C)
    auto y = conv3x3_winograd(positions, winograd_, s);                          // (s^2, B, C')
    return y.view({s, s, b, -1}).permute({2, 3, 0, 1}).contiguous(torch::MemoryFormat::ChannelsLast);
  }
  torch::Tensor shortcut(const torch::Tensor& x) override { return down ? downsample_forward(*down, x) : x; }
  std::string shortcut_params() const override { return "downsample."; }
  torch::Tensor merge(const torch::Tensor& chain, const torch::Tensor& s) override { return torch::relu(chain + s); }

 private:
  Conv2d conv1{nullptr}, conv2{nullptr};
  BatchNorm2d bn1{nullptr}, bn2{nullptr};
  torch::nn::Sequential down{nullptr};
  torch::Tensor winograd_;         // conv2's weight in the Winograd domain
  int64_t winograd_version_ = -1;  // conv2->weight's version counter when it was made
};

// 1x1 reduce, 3x3 (carries the stride, ResNet v1.5), 1x1 expand; expansion 4.
// Chain: conv1, bn1+relu, conv2, bn2+relu, conv3, bn3; then relu(chain + shortcut).
class BottleneckImpl : public ResidualBlockImpl {
 public:
  static constexpr int64_t kExpansion = 4;
  BottleneckImpl(int64_t in, int64_t planes, int64_t stride) {
    const int64_t out = planes * kExpansion;
    conv1 = register_module("conv1", conv(in, planes, 1, 1));
    bn1 = register_module("bn1", BatchNorm2d(planes));
    conv2 = register_module("conv2", conv(planes, planes, 3, stride));
    bn2 = register_module("bn2", BatchNorm2d(planes));
    conv3 = register_module("conv3", conv(planes, out, 1, 1));
    bn3 = register_module("bn3", BatchNorm2d(out));
    if (stride != 1 || in != out) down = register_module("downsample", downsample(in, out, stride));
  }
  int64_t num_ops() const override { return 6; }
  torch::Tensor op(int64_t i, torch::Tensor h) override {
    switch (i) {
      case 0: return conv1(h);                // (B, planes, H, W)
      case 1: return torch::relu(batch_norm_over_split(h, *bn1));
      case 2: return conv2(h);                // (B, planes, H/s, W/s)
      case 3: return torch::relu(batch_norm_over_split(h, *bn2));
      case 4: return conv3(h);                // (B, 4*planes, H/s, W/s)
      default: return batch_norm_over_split(h, *bn3);
    }
  }
  std::string op_params(int64_t i) const override {
    static const char* names[] = {"conv1.", "bn1.", "conv2.", "bn2.", "conv3.", "bn3."};
    return names[i];
  }
  torch::Tensor shortcut(const torch::Tensor& x) override { return down ? downsample_forward(*down, x) : x; }
  std::string shortcut_params() const override { return "downsample."; }
  torch::Tensor merge(const torch::Tensor& chain, const torch::Tensor& s) override { return torch::relu(chain + s); }

 private:
  Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential down{nullptr};
};

// Adds layer1..layer4 to `net`, each a ModuleList of blocks named "0", "1", ...
template <typename Block>
void build_layers(torch::nn::Module& net, const int64_t (&blocks_per_layer)[4],
                  std::vector<std::shared_ptr<ResidualBlockImpl>>& blocks,
                  std::vector<std::string>& names) {
  const int64_t planes[4] = {64, 128, 256, 512};
  int64_t in = 64;
  for (int l = 0; l < 4; ++l) {
    const std::string layer = "layer" + std::to_string(l + 1);
    auto list = net.register_module(layer, torch::nn::ModuleList());
    for (int64_t b = 0; b < blocks_per_layer[l]; ++b) {
      const int64_t stride = (l > 0 && b == 0) ? 2 : 1;
      auto block = std::make_shared<Block>(in, planes[l], stride);
      list->push_back(block);
      blocks.push_back(block);
      names.push_back(layer + "." + std::to_string(b) + ".");
      in = planes[l] * Block::kExpansion;
    }
  }
}

}  // namespace

ResNetImpl::ResNetImpl(const ClassifierSpec& spec, int depth) {
  check(depth == 18 || depth == 50,
        "internal: ResNet depth must be 18 or 50, got " + std::to_string(depth));
  check(spec.image_size >= 8, "model: " + spec.arch + " needs images of at least 8 px (three stride-2 stages), got " +
                                 std::to_string(spec.image_size) + " px");
  conv1 = register_module("conv1", conv(spec.in_channels, 64, 3, 1));
  bn1 = register_module("bn1", BatchNorm2d(64));
  int64_t features;
  if (depth == 18) {
    build_layers<BasicBlockImpl>(*this, {2, 2, 2, 2}, blocks_, block_names_);
    features = 512 * BasicBlockImpl::kExpansion;
  } else {
    build_layers<BottleneckImpl>(*this, {3, 4, 6, 3}, blocks_, block_names_);
    features = 512 * BottleneckImpl::kExpansion;
  }
  fc = register_module("fc", torch::nn::Linear(features, spec.num_classes));

  // torchvision's initialisation: Kaiming-normal (fan_out) convs, BN weight 1 and bias 0.
  for (auto& m : modules(/*include_self=*/false))
    if (auto* c = m->as<torch::nn::Conv2d>())
      torch::nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
}

torch::Tensor ResNetImpl::forward_stage(int64_t i, torch::Tensor x) {
  if (i == 0) return torch::relu(batch_norm_over_split(conv1(x), *bn1));               // (B, 64, H, W)
  if (i <= static_cast<int64_t>(blocks_.size()))
    return blocks_[i - 1]->forward(x);  // layer1: (B, 64e, H, W) ... layer4: (B, 512e, H/8, W/8)
  return fc(x.mean({2, 3}));                                    // (B, 512e) -> (B, classes)
}

std::vector<std::string> ResNetImpl::stage_params(int64_t i) const {
  if (i == 0) return {"conv1.", "bn1."};
  if (i <= static_cast<int64_t>(blocks_.size())) return {block_names_[i - 1]};
  return {"fc."};
}

std::vector<std::vector<std::string>> ResNetImpl::stage_layers(int64_t i) const {
  if (i >= 1 && i <= static_cast<int64_t>(blocks_.size())) return blocks_[i - 1]->layers(block_names_[i - 1]);
  return ClassifierImpl::stage_layers(i);
}

torch::Tensor ResNetImpl::forward_stage_showing(int64_t i, torch::Tensor x, const LayerInputs& seen) {
  if (i >= 1 && i <= static_cast<int64_t>(blocks_.size())) return blocks_[i - 1]->forward_showing(x, seen);
  return ClassifierImpl::forward_stage_showing(i, x, seen);
}

bool ResNetImpl::prepare_fast_tail(int64_t start, const std::vector<std::string>& selected) {
  const int64_t b = start - 1;
  return b >= 0 && b < static_cast<int64_t>(blocks_.size()) && tail_.prepare(*blocks_[b], block_names_[b], selected);
}

torch::Tensor ResNetImpl::fast_tail_cache(int64_t start, const torch::Tensor& h) {
  return tail_.cache(*blocks_[start - 1], h);
}

torch::Tensor ResNetImpl::fast_tail_forward(int64_t start, const torch::Tensor& cached) {
  auto& block = *blocks_[start - 1];
  auto logits = forward_range(tail_.finish(block, cached, /*fast=*/true), start + 1, num_stages());
  redo_close_calls(logits, kRecheckMargin, [&](const torch::Tensor& rows) {
    return forward_range(tail_.finish(block, cached.index_select(0, rows)), start + 1, num_stages());
  });
  return logits;
}

}  // namespace pdiff
