// Per-channel affine map + ReLU on position-major activations (P, B, C), as eval-mode batch
// norm + ReLU in ConvNet-4's tail-only evaluator. One pass each instead of LibTorch's three
// or four elementwise operators over the same memory.
#pragma once
#include <torch/torch.h>

namespace pdiff {

// pooled: (P, B, 2C), channels [0, C) max-pooled and [C, 2C) min-pooled values. Returns
// relu(v * scale + shift) (P, B, C) where v is the max-pooled value for a channel with
// scale >= 0 and the min-pooled one otherwise: the max-pool of the affine map.
torch::Tensor pooled_affine_relu(const torch::Tensor& pooled, const torch::Tensor& scale, const torch::Tensor& shift);

// y: (P, B, C). Returns the mean over P of relu(y * scale + shift): (B, C).
torch::Tensor affine_relu_mean(const torch::Tensor& y, const torch::Tensor& scale, const torch::Tensor& shift);

}  // namespace pdiff
