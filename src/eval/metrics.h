// Measures of a group of models against the originals (SPEC section 3): accuracy statistics,
// similarity as the IoU of wrong-prediction sets, and nearest-neighbour L2 in parameter space.
#pragma once
#include <torch/torch.h>

namespace pdiff {

struct AccuracyStats {
  int64_t n = 0;
  double best = 0, mean = 0, median = 0, min = 0, std = 0;  // percent
};
AccuracyStats accuracy_stats(const torch::Tensor& accuracy);

// Wrong-prediction sets: (M, N) bool, true where predictions (M, N) differ from labels (N).
torch::Tensor wrong_sets(const torch::Tensor& predictions, const torch::Tensor& labels);
// IoU |A & B| / |A | B| of every pair of rows: (A, N) x (B, N) -> (A, B). Two empty sets: 1.
torch::Tensor iou_matrix(const torch::Tensor& wrong_a, const torch::Tensor& wrong_b);
// Mean of the off-diagonal entries of a square matrix.
double off_diagonal_mean(const torch::Tensor& square);
// For each row of a (A, B) similarity matrix, the max over columns; `exclude_diagonal` skips
// entry (i, i) (a group compared with itself).
torch::Tensor row_max(const torch::Tensor& matrix, bool exclude_diagonal);
// For each row of a (A, B) distance matrix, the min over columns: the distance to the nearest
// reference; `exclude_diagonal` when the rows are the references themselves.
torch::Tensor row_min(const torch::Tensor& distances, bool exclude_diagonal);

}  // namespace pdiff
