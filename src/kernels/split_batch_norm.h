// Training-mode BatchNorm2d whose statistics cover the whole batch when the batch is split
// over workers (models/batch_sync.h): the layers of ConvNet-4 that are not fused with
// pooling (bn4) use it while a split is active.
#pragma once
#include <torch/torch.h>

namespace pdiff {

// bn(x) in training mode with batch statistics over every worker's slice; running statistics
// are updated by worker 0 only. Without an active split it equals bn.forward(x). Gradients of
// weight and bias are this slice's share (the split's shares are added up by the caller).
torch::Tensor split_batch_norm_train(const torch::Tensor& x, torch::nn::BatchNorm2dImpl& bn);

}  // namespace pdiff
