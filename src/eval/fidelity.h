// Fidelity and diversity of a group of models against the originals, from pairwise distances
// (eval/distance.h): precision and recall of k-nearest-neighbour manifolds (Kynkaanniemi et al.
// 2019), density and coverage (Naeem et al. 2020), and the number of modes the group falls into.
// Not here: which space the distances come from, or what counts as a good value (the report).
//
// With r_i the distance from original i to its k-th nearest other original (its ball) and s_j
// the same for model j among the group's other models:
//   precision = share of the group's models inside at least one original's ball,
//   recall    = share of originals inside at least one model's ball (s_j),
//   density   = mean over models of (number of originals' balls holding it) / k,
//   coverage  = share of originals whose nearest model lies inside their ball.
// Balls are closed (d <= r). Precision and density measure fidelity (are the models where
// originals are?), recall and coverage diversity (do they reach everywhere originals are?).
// Density is ~1 for a second sample of the originals' distribution, above 1 when models pile up
// where originals are dense.
//
// Modes: connected components of the graph that joins two models of the group when their
// distance is at most a threshold taken from the originals (mode_threshold: the median of the
// originals' k-NN radii r_i, the typical size of a ball), i.e. single-linkage clusters cut at
// that height. A group collapsed onto one point is 1 mode; a group as spread as the originals
// has as many modes as the originals (their own count is the reference).
//
// Every figure is NaN (modes -1) where it is undefined: fewer than k + 1 originals (no radii),
// and recall for a group of k models or fewer (no s_j).
#pragma once
#include <torch/torch.h>

namespace pdiff {

struct Fidelity {
  double precision = 0, recall = 0, density = 0, coverage = 0;
  int64_t modes = 0;
};

// Distance from each point of a set to its k-th nearest *other* point, from the set's (n, n)
// distance matrix (its diagonal is ignored): (n) float64, NaN when n <= k.
torch::Tensor knn_radii(const torch::Tensor& self_dist, int64_t k);

// The median (lower middle, as torch's median) of the originals' k-NN radii; NaN when undefined.
double mode_threshold(const torch::Tensor& real_real, int64_t k);

// Connected components of {d(i, j) <= threshold} over a set's (n, n) distance matrix; -1 when
// the threshold is NaN.
int64_t count_modes(const torch::Tensor& self_dist, double threshold);

// A group against the originals: real_real (K, K), fake_fake (M, M), fake_real (M, K).
Fidelity fidelity(const torch::Tensor& real_real, const torch::Tensor& fake_fake, const torch::Tensor& fake_real,
                  int64_t k);

// The originals against themselves, leaving each one out of its own comparison (model j is
// never counted in its own ball, nor as its own nearest model): coverage and density are then
// exactly 1, precision and recall the share of originals that are some other original's k-NN.
Fidelity fidelity_of_reference(const torch::Tensor& real_real, int64_t k);

}  // namespace pdiff
