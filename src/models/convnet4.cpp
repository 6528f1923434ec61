#include "models/convnet4.h"

namespace pdiff {

namespace {
torch::nn::Conv2dOptions conv3x3(int64_t in, int64_t out) {
  return torch::nn::Conv2dOptions(in, out, 3).padding(1).bias(false);
}
}  // namespace

ConvNet4Impl::ConvNet4Impl(const ClassifierSpec& spec) {
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
    case 0: return conv1(x);                                          // (B, 32, 28, 28)
    case 1: return torch::max_pool2d(torch::relu(bn1(x)), 2);         // (B, 32, 14, 14)
    case 2: return conv2(x);                                          // (B, 64, 14, 14)
    case 3: return torch::max_pool2d(torch::relu(bn2(x)), 2);         // (B, 64, 7, 7)
    case 4: return conv3(x);                                          // (B, 128, 7, 7)
    case 5: return torch::max_pool2d(torch::relu(bn3(x)), 2);         // (B, 128, 3, 3)
    case 6: return conv4(x);                                          // (B, 256, 3, 3)
    case 7: return torch::relu(bn4(x)).mean({2, 3});                  // (B, 256)
    default: return fc(x);                                            // (B, classes)
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
  // Max- and min-pooled conv3 outputs, position-major: (B, 9, 2 * 128).
  auto pooled = torch::cat({torch::max_pool2d(h, 2), -torch::max_pool2d(-h, 2)}, 1);  // (B, 256, 3, 3)
  return pooled.permute({0, 2, 3, 1}).reshape({h.size(0), 9, -1}).contiguous();
}

torch::Tensor ConvNet4Impl::fast_tail_forward(int64_t start, const torch::Tensor& cached) {
  const int64_t c = bn3->weight.size(0);
  auto [scale3, shift3] = bn_affine(bn3);
  // bn3's scale has the sign of its weight: pick the max- or the min-pooled value per channel.
  auto x = torch::where(scale3 >= 0, cached.slice(2, 0, c), cached.slice(2, c, 2 * c));  // (B, 9, 128)
  x = torch::relu_(x.mul_(scale3).add_(shift3));
  auto y = conv3x3_on_3x3_rows(x, conv4->weight);                                       // (9, B, 256)
  auto [scale4, shift4] = bn_affine(bn4);
  y = torch::relu_(y.mul_(scale4).add_(shift4)).mean(0);                                // (B, 256)
  return fc(y);
}

torch::Tensor conv3x3_on_3x3_rows(const torch::Tensor& rows, const torch::Tensor& w) {
  // On a 3x3 map with padding 1 only 49 of the 81 (output, tap) pairs touch the input; oneDNN
  // computes all of them, and slowly at this size. One GEMM per output position over its
  // valid taps does 40 % less work at GEMM speed.
  const int64_t b = rows.size(0), cout = w.size(0);
  auto out = torch::empty({9, b, cout}, rows.options());
  for (int64_t oy = 0; oy < 3; ++oy)
    for (int64_t ox = 0; ox < 3; ++ox) {
      std::vector<int64_t> positions;
      std::vector<torch::Tensor> taps;
      for (int64_t ky = 0; ky < 3; ++ky)
        for (int64_t kx = 0; kx < 3; ++kx) {
          int64_t iy = oy + ky - 1, ix = ox + kx - 1;
          if (iy < 0 || iy > 2 || ix < 0 || ix > 2) continue;
          positions.push_back(iy * 3 + ix);
          taps.push_back(w.select(3, kx).select(2, ky));  // (Cout, Cin)
        }
      auto in = positions.size() == 9 ? rows.reshape({b, -1})
                                      : rows.index_select(1, torch::tensor(positions)).reshape({b, -1});
      auto slot = out[oy * 3 + ox];
      torch::mm_out(slot, in, torch::cat(taps, 1).t());  // (B, Cout), written in place
    }
  return out;
}

torch::Tensor conv3x3_on_3x3(const torch::Tensor& x, const torch::Tensor& w) {
  auto rows = x.permute({0, 2, 3, 1}).reshape({x.size(0), 9, x.size(1)});
  return conv3x3_on_3x3_rows(rows, w).permute({1, 2, 0}).reshape({x.size(0), w.size(0), 3, 3});
}

std::vector<std::string> ConvNet4Impl::stage_params(int64_t i) const {
  static const char* names[] = {"conv1.", "bn1.", "conv2.", "bn2.", "conv3.",
                                "bn3.", "conv4.", "bn4.", "fc."};
  return {names[i]};
}

}  // namespace pdiff
