#include "models/convnet4.h"

#include "core/error.h"
#include "kernels/affine_relu.h"
#include "kernels/conv3x3_small.h"
#include "kernels/dispatch.h"

namespace pdiff {

namespace {
torch::nn::Conv2dOptions conv3x3(int64_t in, int64_t out) {
  return torch::nn::Conv2dOptions(in, out, 3).padding(1).bias(false);
}
}  // namespace

ConvNet4Impl::ConvNet4Impl(const ClassifierSpec& spec) {
  check(spec.image_size >= 8, "model: convnet4 needs images of at least 8 px (three 2x2 max-pools), got " +
                                  std::to_string(spec.image_size) + " px");
  conv4_map_ = spec.image_size / 2 / 2 / 2;
  const int64_t c[] = {spec.in_channels, 32, 64, 128, 256};
  // Registered in forward order so norm_layers() lists bn1..bn4 in order.
  conv1 = register_module("conv1", torch::nn::Conv2d(conv3x3(c[0], c[1])));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(c[1]));
  conv2 = register_module("conv2", torch::nn::Conv2d(conv3x3(c[1], c[2])));
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(c[2]));
  conv3 = register_module("conv3", torch::nn::Conv2d(conv3x3(c[2], c[3])));
  bn3 = register_module("bn3", torch::nn::BatchNorm2d(c[3]));
  conv4 = register_module("conv4", torch::nn::Conv2d(conv3x3(c[3], c[4])));
  bn4 = register_module("bn4", torch::nn::BatchNorm2d(c[4]));
  fc = register_module("fc", torch::nn::Linear(c[4], spec.num_classes));
}

torch::Tensor ConvNet4Impl::forward_stage(int64_t i, torch::Tensor x) {
  switch (i) {
    // Hand-written CPU kernels where they apply, LibTorch's ops otherwise (kernels/dispatch.h).
    case 0: return conv3x3_first(x, *conv1);                     // (B, 32, 28, 28) at 28 px
    case 1: return bn_pool_relu(x, *bn1);                        // (B, 32, 14, 14)
    case 2: return conv2(x);                                     // (B, 64, 14, 14)
    case 3: return bn_pool_relu(x, *bn2);                        // (B, 64, 7, 7)
    case 4: return conv3(x);                                     // (B, 128, 7, 7)
    case 5: return bn_pool_relu(x, *bn3);                        // (B, 128, 3, 3)
    case 6: return conv4(x);                                     // (B, 256, 3, 3)
    case 7: return torch::relu(batch_norm_over_split(x, *bn4)).mean({2, 3});  // (B, 256)
    default: return fc(x);                                       // (B, classes)
  }
}

namespace {
// Eval-mode batch norm as a per-channel affine map: (scale, shift) with y = x * scale + shift.
std::pair<torch::Tensor, torch::Tensor> bn_affine(const torch::nn::BatchNorm2d& bn) {
  auto scale = bn->weight / (bn->running_var + bn->options.eps()).sqrt();
  return {scale, bn->bias - bn->running_mean * scale};
}
}  // namespace

torch::Tensor ConvNet4Impl::fast_tail_cache(int64_t start, const torch::Tensor& h) {
  // Max- and min-pooled conv3 outputs, position-major: (9, B, 2 * 128).
  auto pooled = torch::cat({torch::max_pool2d(h, 2), -torch::max_pool2d(-h, 2)}, 1);  // (B, 256, 3, 3)
  return pooled.permute({2, 3, 0, 1}).reshape({9, h.size(0), -1}).contiguous();
}

torch::Tensor ConvNet4Impl::fast_tail_forward(int64_t start, const torch::Tensor& cached) {
  auto [scale3, shift3] = bn_affine(bn3);
  // bn3's scale has the sign of its weight: pick the max- or the min-pooled value per channel.
  auto x = pooled_affine_relu(cached, scale3, shift3);  // (9, B, 128)
  if (conv4_version_ != conv4->weight._version()) {  // conv4 changed: re-lay it
    taps_ = conv3x3_taps(conv4->weight);
    winograd_ = winograd_weight(conv4->weight);
    conv4_version_ = conv4->weight._version();
  }
  auto logits = tail_after_conv4(conv3x3_on_3x3_winograd(x, winograd_));
  // Winograd rounds ~10x worse than the direct GEMMs (still ~1e-6 on a logit): close calls
  // are redone the direct way, so the predictions are those of the direct math.
  redo_close_calls(logits, kRecheckMargin, [&](const torch::Tensor& rows) {
    return tail_after_conv4(conv3x3_on_3x3_rows(x.index_select(1, rows).permute({1, 0, 2}), taps_));
  });
  return logits;
}

torch::Tensor ConvNet4Impl::tail_after_conv4(torch::Tensor y) {
  auto [scale4, shift4] = bn_affine(bn4);
  return fc(affine_relu_mean(y, scale4, shift4));  // (9, B, 256) -> (B, classes)
}

std::vector<std::string> ConvNet4Impl::stage_params(int64_t i) const {
  static const char* names[] = {"conv1.", "bn1.", "conv2.", "bn2.", "conv3.",
                                "bn3.", "conv4.", "bn4.", "fc."};
  return {names[i]};
}

}  // namespace pdiff
