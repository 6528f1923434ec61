// 3x3, padding-1, stride-1 convolutions (no bias) on 3x3 and 4x4 maps, run once per model in
// tail-only evaluation: ConvNet-4's conv4 (3x3 map at 28 px) and ResNet-18's layer4.1.conv2
// (4x4 map at 28-32 px).
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

// Winograd F(s x s, 3x3) on a whole s x s map with its zero padding folded in (s = 3 or 4):
// (s + 2)^2 multiplies per (input, output channel) pair instead of 9 s^2 (25 vs 81 at s = 3,
// 36 vs 144 at s = 4), at about ten times the rounding error of the direct form (~1e-5
// relative; tested). Positions are row-major over the map; the weight is transformed once per
// model: (Cout, Cin, 3, 3) -> ((s + 2)^2, Cin, Cout).
torch::Tensor winograd_weight(const torch::Tensor& w, int64_t s = 3);
// x (s^2, B, Cin) position-major -> (s^2, B, Cout).
torch::Tensor conv3x3_winograd(const torch::Tensor& x, const torch::Tensor& weight, int64_t s);
torch::Tensor conv3x3_on_3x3_winograd(const torch::Tensor& x, const torch::Tensor& weight25);  // s = 3

}  // namespace pdiff
