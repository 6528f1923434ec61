#include "zoo/ranks_evaluation.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "core/progress.h"
#include "dist/group.h"

namespace pdiff {

EvalResult evaluate_share(TailEvaluator& evaluator, const torch::Tensor& mine, const std::vector<int64_t>& counts,
                          const std::string& label, bool progress) {
  EvalResult part;
  if (mine.size(0) > 0) {
    part = evaluator.evaluate(mine, progress ? label : "");
  } else {  // more ranks than models
    part.accuracy = torch::empty({0}, torch::kFloat64);
    part.predictions = torch::empty({0, evaluator.test_size()}, torch::kUInt8);
  }
  EvalResult all;
  all.accuracy = dist_gather_rows(part.accuracy.cpu(), counts, label + ": gathering the accuracies");
  all.predictions = dist_gather_rows(part.predictions.cpu(), counts, label + ": gathering the predictions");
  return all;
}

EvalResult evaluate_on_every_rank(TailEvaluator& evaluator, const torch::Tensor& rows, int64_t m,
                                  const std::string& label) {
  const int world = dist_world(), rank = dist_rank();
  if (world == 1) return evaluator.evaluate(rows, label);
  const int64_t d = rows.size(1), round = evaluator.models_per_pass() * world;
  std::vector<EvalResult> parts;
  std::unique_ptr<Progress> progress;
  if (m > 1 && !label.empty()) progress = std::make_unique<Progress>(label, m, "models");
  for (int64_t first = 0; first < m; first += round) {
    const int64_t count = std::min(round, m - first);
    std::vector<int64_t> counts(world);
    for (int r = 0; r < world; ++r) counts[r] = share_of(count, r, world).size();
    const torch::Tensor dealt = rank == 0 ? rows.slice(0, first, first + count) : torch::empty({0, d});
    const torch::Tensor mine = dist_scatter_rows(dealt, counts, label + ": dealing out the models");
    parts.push_back(evaluate_share(evaluator, mine, counts, label, /*progress=*/false));  // the line above
    if (progress) progress->tick(count);
  }
  if (progress) progress->finish();
  EvalResult r;
  std::vector<torch::Tensor> acc, pred;
  for (const auto& p : parts) acc.push_back(p.accuracy), pred.push_back(p.predictions);
  r.accuracy = acc.empty() ? torch::empty({0}, torch::kFloat64) : torch::cat(acc);
  r.predictions = pred.empty() ? torch::empty({0, evaluator.test_size()}, torch::kUInt8) : torch::cat(pred);
  return r;
}

}  // namespace pdiff
