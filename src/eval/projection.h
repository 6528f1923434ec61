// 2-D projections of point sets (e.g. flattened parameter vectors) for plots: PCA and exact
// t-SNE, both written with torch tensor ops on the CPU and deterministic.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace pdiff {

// Projects x (N, D) onto its top-2 principal directions: returns (N, 2) float, centred.
// Computed in double through the smaller of the D x D covariance and the N x N Gram matrix.
// Each component's sign is fixed so that its largest-magnitude loading is positive. When the
// data has fewer than two directions of variance (N < 3 or D < 2), missing columns are zero.
torch::Tensor pca_2d(const torch::Tensor& x);

// Exact t-SNE (van der Maaten & Hinton 2008) of x (N, D) to (N, 2) float. Perplexity is
// clamped to (N - 1) / 3 for small N; early exaggeration 12 for the first 250 iterations,
// momentum 0.5 then 0.8, learning rate max(N / 48, 50) (the gradient includes its factor 4),
// per-parameter gains. The start is seeded normal noise * 1e-4, so a fixed seed gives the same
// result (for a fixed number of torch threads). Cost is O(N^2) memory and time per iteration;
// N = 1000 is a few seconds. Shows a progress line when N > 300.
torch::Tensor tsne_2d(const torch::Tensor& x, double perplexity = 30, int64_t iterations = 750,
                      uint64_t seed = 0);
// The same from the points' (N, N) squared distances.
torch::Tensor tsne_2d_of_distances(const torch::Tensor& squared_distances, double perplexity = 30,
                                   int64_t iterations = 750, uint64_t seed = 0);

// For points too many to hold twice (whole networks, a zoo read from disk): the (N, N) Gram
// matrix, float64, of the points of all `groups` together (N = their total rows), each
// coordinate standardised over the N points (mean 0, std 1). Accumulated over chunks of columns
// (~64 MB each); the groups are never concatenated, a mapped group's pages are released.
torch::Tensor standardised_gram(const std::vector<torch::Tensor>& groups);
// Squared distances between the points of a centred Gram matrix.
torch::Tensor squared_distances_of_gram(const torch::Tensor& gram);
// pca_2d from a centred Gram matrix: each point's scores on the top two principal directions;
// each component's sign is fixed so that its largest-magnitude score is positive.
torch::Tensor pca_2d_of_gram(const torch::Tensor& gram);

}  // namespace pdiff
