// Linear mode connectivity (Frankle et al. 2020; Entezari et al. 2022): the test accuracy along
// the straight line between two originals. A large dip ("barrier") says the two sit in different
// basins, so that averaging them, and generating between them, fails; separate trainings show
// one until their hidden units are aligned (zoo.align), a trajectory's checkpoints none.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <utility>
#include <vector>

namespace pdiff {

struct BarrierCurve {
  int64_t a = 0, b = 0;            // the originals' rows
  std::vector<double> alpha;       // 0 ... 1: the model (1 - alpha) * a + alpha * b
  std::vector<double> accuracy;    // percent, at each alpha
  double barrier = 0;              // the largest drop below the line joining the ends, in points
};

// Up to `count` pairs of rows of a zoo of k, half the zoo apart (k, k + K/2): far apart in a
// trajectory, distinct runs in a collection of separate trainings.
std::vector<std::pair<int64_t, int64_t>> barrier_pairs(int64_t k, int64_t count);

// Each pair's curve at alpha = 0, 1/4, 1/2, 3/4, 1: the ends' accuracies are `accuracy`'s, the
// interior models are made from `params` (K, D) and measured with `accuracy_of` (rows (M, D) ->
// percent (M)), all pairs in one call.
std::vector<BarrierCurve> accuracy_barriers(const torch::Tensor& params, const torch::Tensor& accuracy,
                                            const std::vector<std::pair<int64_t, int64_t>>& pairs,
                                            const std::function<torch::Tensor(const torch::Tensor&)>& accuracy_of);

}  // namespace pdiff
