// Trains the base classifier from scratch (SPEC 1.1 step 1) with the config's `base.*` recipe:
// SGD with momentum (or AdamW), cosine learning rate to 0, weight decay, augmentation.
// Saves `base.partial.pt` after every epoch and resumes from it.
#pragma once
#include <string>

#include "core/run_context.h"
#include "data/dataset.h"
#include "models/classifier.h"

namespace pdiff {

// The base.* keys.
struct BaseOptions {
  std::string file;                 // take the base from this checkpoint instead of training it
  int64_t epochs = 3, batch = 128;
  std::string optimizer = "sgd";    // or adamw
  double lr = 0.05, momentum = 0.9, weight_decay = 5e-4;
  std::string fingerprint;          // of the keys base.pt depends on (run/stage_options.h)
};

// Trains `model` in place (on its device, in the run's precision), data order and augmentation
// from the run's seed; `partial_path` is the resume file (removed by the caller when done).
void train_base(const Classifier& model, const ClassifierSpec& spec, const BaseOptions& opts, const RunContext& run,
                const DataSplits& data, const std::string& partial_path);

}  // namespace pdiff
