// A 3x3 convolution (padding 1, stride 1, no bias) of a one-channel image, as ConvNet-4's conv1
// on Fashion-MNIST. oneDNN runs this shape at ~25 GFLOP/s forward and its weight gradient
// slower still (7 ms of a ~105 ms training step here), and returns a contiguous (not
// channels-last) output that the next layer then converts. These direct loops do the forward
// and the weight gradient in a fraction of that and write channels-last directly.
#pragma once
#include <torch/torch.h>

namespace pdiff {

// x: (B, 1, H, W) float32 CPU; weight: (Cout, 1, 3, 3). Returns (B, Cout, H, W) in
// channels-last memory. Differentiable in weight; an x that requires grad falls back to
// torch::conv2d (images never do in training).
torch::Tensor conv3x3_one_channel(const torch::Tensor& x, const torch::Tensor& weight);

}  // namespace pdiff
