// `pdiff collect`: train the base model, then train only the selected subset and keep K
// checkpoints (one per iteration, per epoch, or per independent run), evaluate every one on
// the test set with the tail-only evaluator, and write base.pt and zoo.pt to the run directory.
// Interrupted runs resume from base.partial.pt / zoo.partial.pt.
#pragma once
#include <string>

#include "core/run_context.h"
#include "data/dataset.h"
#include "models/classifier.h"
#include "zoo/train_base.h"

namespace pdiff {

// The zoo.* keys.
struct ZooOptions {
  std::string select = "auto";     // which parameters (zoo/layout.h)
  int64_t k = 200;                 // checkpoints
  std::string import;              // a folder or glob of Python checkpoints instead of training
  std::string align = "none";      // separate trainings: none, weights or activations (zoo/zoo_alignment.h)
  int64_t align_batches = 8;       // activations: training batches of 128 the networks are compared on
  int64_t align_rounds = 0;        // then rounds of each checkpoint to the average of the others
  std::string import_stats = "own";  // drifting running statistics: own or base (zoo/import.h)
  std::string mode = "iteration";  // iteration, epoch or seeds
  std::string optimizer = "adamw";  // or sgd
  double lr = 0.01, weight_decay = 5e-4;
  int64_t batch = 128;
  int64_t run_iters = 50;          // seeds mode: steps of each run
  double init_noise = 0.2;         // seeds mode: each run's starting noise, times each tensor's RMS
};

struct CollectOptions {
  DataOptions data;
  ModelOptions model;
  BaseOptions base;
  ZooOptions zoo;
  std::string fingerprint;         // of the keys zoo.pt depends on (run/stage_options.h)
};

void collect(const RunContext& run, const CollectOptions& opts);

}  // namespace pdiff
