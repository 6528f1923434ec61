// `pdiff eval`: evaluates the originals, the generated models, the weight-average ensemble and
// the baseline groups on the test set (tail-only), measures similarity and fidelity to the
// originals and the generated models' dominance over each baseline, and writes report.json,
// report.md and the plots to the run directory. The baselines' test results are kept in
// baselines.pt and reused while the zoo and the baselines are the same (eval/baseline_cache.h).
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/run_context.h"
#include "data/dataset.h"
#include "eval/barrier.h"
#include "eval/dominance.h"
#include "eval/fidelity.h"
#include "eval/metrics.h"
#include "models/classifier.h"

namespace pdiff {

struct GroupResult {
  std::string name;            // "original", "generated", "ensemble", "noise_std_0.05", ...
  AccuracyStats acc;
  double max_sim_mean = 0;     // mean over models of the max IoU to any (other) original
  double nn_l2_median = 0;     // median distance to the nearest (other) original
  torch::Tensor params;        // (M, D)
  torch::Tensor accuracy;      // (M) percent
  torch::Tensor max_sim;       // (M)
  // Against the originals (eval/fidelity.h); for the originals, each left out of its own comparison.
  Fidelity param_fidelity;     // L2 on vectors standardised per tensor (the Standardizer's std)
  Fidelity pred_fidelity;      // 1 - IoU of wrong-prediction sets
};

struct Similarity {
  double origin_origin = 0, generated_generated = 0, origin_generated = 0, generated_max = 0;
};

struct EvalReport {
  std::vector<GroupResult> groups;
  Similarity similarity;
  std::vector<std::pair<std::string, double>> timings_s;  // stage -> seconds, in order, with "total"
  std::string verdict;                                    // the headline answer in words
  int64_t nn_k = 5;                                       // k of the k-NN balls (eval.nn_k)
  double param_mode_threshold = 0, pred_mode_threshold = 0;  // mode thresholds (eval/fidelity.h)
  std::vector<DominanceRow> dominance;                    // generated against each baseline
  std::string dominance_verdict;                          // the same in words
  int64_t recalibrate_bn = 0;                             // batches that recalibrated the BatchNorm statistics
  int64_t repair = 0;                                     // batches that repaired the units' statistics (generate.repair)
  std::vector<BarrierCurve> barriers;                     // accuracy between pairs of originals (eval/barrier.h)
  std::string align = "none";                             // zoo.align of the zoo they come from
  const GroupResult& group(const std::string& name) const;
};


// The eval.* keys, and the data and model the groups are evaluated as.
struct EvalOptions {
  DataOptions data;
  ModelOptions model;
  int64_t baseline_n = 100;        // models per sampled baseline group
  int64_t nn_k = 5;                // k of the k-NN balls
  bool tsne = true;                // the t-SNE plot
  int64_t recalibrate_bn = 0;      // generate.recalibrate_bn: the baselines get it too
  int64_t repair = 0;              // generate.repair: the baselines get it too
  int64_t barrier_pairs = 4;       // pairs of originals on whose line the accuracy is measured
  std::string align = "none";      // zoo.align: the barriers are the aligned checkpoints'
  std::string fingerprint;         // of the keys the report depends on (run/stage_options.h)
  nlohmann::json config;           // the resolved config, as report.json's "config"
};

EvalReport evaluate(const RunContext& run, const EvalOptions& opts);

// The answer to "are the generated models more novel than the baselines at equal accuracy?"
std::string novelty_verdict(const EvalReport& report);

}  // namespace pdiff
