// relu(max_pool2d(batch_norm(x), 2)) for a BatchNorm2d in training mode, fused into two
// passes over x forward and one backward. LibTorch 1.13 runs these three as separate
// memory-bound operators, and its channels-last max-pool backward is slow: together they
// were a third of a ConvNet-4 training step here.
#pragma once
#include <torch/torch.h>

namespace pdiff {

// x: (B, C, H, W) float32 on the CPU (channels-last is fastest). Uses batch statistics and
// updates bn's running statistics and num_batches_tracked as BatchNorm2d::forward does in
// training mode. Differentiable in x, bn->weight and bn->bias.
torch::Tensor bn_pool_relu_train(const torch::Tensor& x, torch::nn::BatchNorm2dImpl& bn);

// The same in eval mode (running statistics), in one pass; no gradient. BatchNorm2d,
// max_pool2d and relu in LibTorch take ~8x longer on ConvNet-4's bn1 here.
torch::Tensor bn_pool_relu_eval(const torch::Tensor& x, const torch::nn::BatchNorm2dImpl& bn);

}  // namespace pdiff
