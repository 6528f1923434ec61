// Pairwise distances between models, in the two spaces the fidelity metrics use:
// parameter space (L2 on vectors divided by a per-coordinate scale, e.g. the Standardizer's
// per-tensor std) and prediction space (1 - IoU of wrong-prediction sets, the Jaccard distance).
// Not here: what is done with the distances (eval/fidelity.h).
//
// Memory: parameter distances stream over the D coordinates in column chunks (float64 only for
// a chunk, never for a whole (M, D) group), so the cost beyond the inputs is O((A + B) x chunk +
// A x B) whatever D is.
#pragma once
#include <torch/torch.h>

#include <vector>

namespace pdiff {

// L2 distance of every row of a (A, D) to every row of b (B, D), each coordinate divided by
// scale (D) first (an undefined scale means 1): (A, B) float64. Computed as |x|^2 + |y|^2 - 2 x.y
// in float64 per chunk of columns, centred on the chunk's mean of b (distances do not change,
// rounding does), so a 1e-3 difference on vectors of norm 1e3 still has ~8 correct digits.
// chunk_columns: columns per chunk; 0 picks ~64 MB of float64 for both chunks together.
torch::Tensor param_distances(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& scale = {},
                              int64_t chunk_columns = 0);

// The same with the rows of a given as blocks (their rows stacked in order, never concatenated):
// the report measures every group against the originals in one pass over the D coordinates.
torch::Tensor param_distances(const std::vector<torch::Tensor>& a_blocks, const torch::Tensor& b,
                              const torch::Tensor& scale = {}, int64_t chunk_columns = 0);

// The same for a set with itself: exactly symmetric (so d(i, j) <= r and d(j, i) <= r always
// agree) with a zero diagonal.
torch::Tensor param_self_distances(const torch::Tensor& a, const torch::Tensor& scale = {});

// 1 - IoU of every pair of wrong-prediction sets (A, N) x (B, N) -> (A, B) float64; a metric
// (the Jaccard distance), 0 for two empty sets. Exact: the counts are integers and the ratio is
// taken in float64.
torch::Tensor prediction_distances(const torch::Tensor& wrong_a, const torch::Tensor& wrong_b);

}  // namespace pdiff
