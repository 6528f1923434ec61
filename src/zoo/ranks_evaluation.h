// Evaluating many parameter vectors with every rank of a job: rank 0 holds the vectors (a zoo
// it wrote, read back from disk) and deals them out a round at a time, a pass of the evaluator
// per rank; the predictions and accuracies come back to every rank in row order. Each vector's
// result does not depend on the world size (on the CPU every vector is evaluated on its own).
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "zoo/tail_evaluator.h"

namespace pdiff {

// Evaluates this rank's rows `mine` (counts[r] rows on rank r, maybe none) and gathers every
// rank's results on every rank, in rank order; `progress` shows a line for the share.
EvalResult evaluate_share(TailEvaluator& evaluator, const torch::Tensor& mine, const std::vector<int64_t>& counts,
                          const std::string& label, bool progress = true);

// `rows`: (m, D) on rank 0, an empty (0, D) tensor on the others; `m` the same on every rank.
EvalResult evaluate_on_every_rank(TailEvaluator& evaluator, const torch::Tensor& rows, int64_t m,
                                  const std::string& label);

}  // namespace pdiff
