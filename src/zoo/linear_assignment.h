// The linear assignment problem: which column each row of a square score matrix takes so that
// the summed scores are largest. Weight matching (zoo/weight_matching.h) solves one per
// permutation group and round.
#pragma once
#include <torch/torch.h>

#include <vector>

namespace pdiff {

// The permutation p maximising sum_i score[i][p[i]] for a square matrix (n, n) of finite
// scores (any floating type; solved in float64). O(n^3): shortest augmenting paths with row and
// column potentials (the Hungarian method in Jonker and Volgenant's form). Debian's assignment
// solvers take integer costs only (dlib's max_cost_assignment), which would round the inner
// products of weights this solves for. Throws pdiff::Error for a matrix that is not square or
// holds a NaN or an infinity.
std::vector<int64_t> max_weight_assignment(const torch::Tensor& score);

}  // namespace pdiff
