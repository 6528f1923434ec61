// The one point that decides, call by call, whether a hand-written CPU kernel runs (the other
// files of kernels/: written for float32 CPU tensors in the shapes ConvNet-4 and ResNet-18 use)
// or the generic LibTorch path, the one every other device takes. Models, the tail evaluator
// and split-batch training ask here and nowhere else.
//
// `kernels=generic` (or the variable PDIFF_KERNELS=generic) forces the generic path on the CPU
// too: the test suite runs the pipeline that way, so the path a GPU takes is tested on every
// machine. Both paths compute the same math; they differ in rounding only.
#pragma once
#include <torch/torch.h>

namespace pdiff {

enum class KernelChoice { Auto, Generic };

// Process-wide (set once from the run context, before any stage starts).
void set_kernel_choice(KernelChoice choice);
KernelChoice kernel_choice();
// "auto" or "generic" (as the config key spells it); anything else is an error naming the value.
KernelChoice parse_kernel_choice(const std::string& word, const std::string& origin);

// Whether hand-written CPU kernels may run on tensors of this device and type: choice auto,
// CPU, float32.
bool cpu_kernels_apply(const torch::Device& device, torch::ScalarType type = torch::kFloat32);
bool cpu_kernels_apply(const torch::Tensor& x);
// ... on a module's parameters (its first one; a module without parameters counts as CPU float32).
bool cpu_kernels_apply(const torch::nn::Module& module);

// ConvNet-4's ops that have a hand-written form; each falls back to LibTorch's ops.
// relu(max_pool2d(bn(x), 2)), train or eval mode as bn is (kernels/bn_pool_relu.h).
torch::Tensor bn_pool_relu(const torch::Tensor& x, torch::nn::BatchNorm2dImpl& bn);
// A 3x3, padding-1, bias-free convolution; direct loops for one input channel
// (kernels/conv3x3_one_channel.h).
torch::Tensor conv3x3_first(const torch::Tensor& x, torch::nn::Conv2dImpl& conv);
// bn(x); in training mode with statistics over a split batch (kernels/split_batch_norm.h).
torch::Tensor batch_norm_over_split(const torch::Tensor& x, torch::nn::BatchNorm2dImpl& bn);

}  // namespace pdiff
