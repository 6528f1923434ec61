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

std::vector<std::string> ConvNet4Impl::stage_params(int64_t i) const {
  static const char* names[] = {"conv1.", "bn1.", "conv2.", "bn2.", "conv3.",
                                "bn3.", "conv4.", "bn4.", "fc."};
  return {names[i]};
}

}  // namespace pdiff
