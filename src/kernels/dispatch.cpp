#include "kernels/dispatch.h"

#include <atomic>

#include "core/error.h"
#include "kernels/batch_sync.h"
#include "kernels/bn_pool_relu.h"
#include "kernels/conv3x3_one_channel.h"
#include "kernels/split_batch_norm.h"

namespace pdiff {

namespace {
std::atomic<KernelChoice> g_choice{KernelChoice::Auto};
}  // namespace

void set_kernel_choice(KernelChoice choice) { g_choice = choice; }
KernelChoice kernel_choice() { return g_choice; }

KernelChoice parse_kernel_choice(const std::string& word, const std::string& origin) {
  if (word == "auto") return KernelChoice::Auto;
  if (word == "generic") return KernelChoice::Generic;
  throw Error(origin + " = '" + word + "': use auto (hand-written CPU kernels where they apply) or generic (LibTorch's ops only)");
}

bool cpu_kernels_apply(const torch::Device& device, torch::ScalarType type) {
  return g_choice == KernelChoice::Auto && device.is_cpu() && type == torch::kFloat32;
}

bool cpu_kernels_apply(const torch::Tensor& x) { return cpu_kernels_apply(x.device(), x.scalar_type()); }

bool cpu_kernels_apply(const torch::nn::Module& module) {
  const auto params = module.parameters();
  return params.empty() ? cpu_kernels_apply(torch::Device(torch::kCPU)) : cpu_kernels_apply(params.front());
}

torch::Tensor bn_pool_relu(const torch::Tensor& x, torch::nn::BatchNorm2dImpl& bn) {
  if (cpu_kernels_apply(x)) {
    if (bn.is_training()) return bn_pool_relu_train(x, bn);
    if (!x.requires_grad()) return bn_pool_relu_eval(x, bn);
  }
  // ReLU commutes with max-pooling: it runs on the pooled map, 4x fewer elements.
  return torch::relu(torch::max_pool2d(batch_norm_over_split(x, bn), 2));
}

torch::Tensor conv3x3_first(const torch::Tensor& x, torch::nn::Conv2dImpl& conv) {
  if (x.size(1) == 1 && cpu_kernels_apply(x)) return conv3x3_one_channel(x, conv.weight);
  return conv.forward(x);
}

torch::Tensor batch_norm_over_split(const torch::Tensor& x, torch::nn::BatchNorm2dImpl& bn) {
  return bn.is_training() ? split_batch_norm_train(x, bn) : bn.forward(x);
}

}  // namespace pdiff
