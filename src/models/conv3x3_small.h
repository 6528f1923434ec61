// 3x3, padding-1, stride-1 convolutions (no bias) on 3x3 maps, where oneDNN is slow: the
// last block of ConvNet-4, run once per model in tail-only evaluation.
#pragma once
#include <torch/torch.h>

namespace pdiff {

// Direct: GEMMs over the 49 valid (output, tap) pairs of the 81.
// x (B, Cin, 3, 3), w (Cout, Cin, 3, 3) -> (B, Cout, 3, 3).
torch::Tensor conv3x3_on_3x3(const torch::Tensor& x, const torch::Tensor& w);
// The same on image-major rows (B, 9, Cin) -> position-major (9, B, Cout), with the weight
// laid out by conv3x3_taps as (ky, kx, Cin, Cout).
torch::Tensor conv3x3_taps(const torch::Tensor& w);
torch::Tensor conv3x3_on_3x3_rows(const torch::Tensor& rows, const torch::Tensor& taps);

// Winograd F(3x3, 3x3): 25 multiplies per (input, output channel) pair instead of 49, at
// about ten times the rounding error of the direct form (~1e-5 relative; tested).
// Positions are row-major over the 3x3 map. The weight is transformed once per model.
torch::Tensor winograd_weight(const torch::Tensor& w);  // (Cout, Cin, 3, 3) -> (25, Cin, Cout)
// x (9, B, Cin) position-major -> (9, B, Cout).
torch::Tensor conv3x3_on_3x3_winograd(const torch::Tensor& x, const torch::Tensor& weight25);

}  // namespace pdiff
