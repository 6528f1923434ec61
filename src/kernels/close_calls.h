// Fast tails that round more than the direct math (Winograd) redo the images whose call is
// close, so their predictions are those of the direct math.
#pragma once
#include <torch/torch.h>

#include <functional>

namespace pdiff {

// A prediction is recomputed the direct way when its two best logits are this close.
inline constexpr double kRecheckMargin = 1e-2;

// Replaces each row of logits (B, classes) whose two largest entries are closer than
// `margin`, in place, by the matching row of recompute(indices of those rows).
void redo_close_calls(const torch::Tensor& logits, double margin,
                      const std::function<torch::Tensor(const torch::Tensor&)>& recompute);

}  // namespace pdiff
