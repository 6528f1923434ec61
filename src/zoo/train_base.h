// The base classifier (SPEC 1.1 step 1): taken from a file, reused from base.pt, or trained from
// scratch with the config's `base.*` recipe (SGD with momentum or AdamW, cosine learning rate to
// 0, weight decay, augmentation; `base.partial.pt` after every epoch, resumed from).
#pragma once
#include <functional>
#include <optional>
#include <string>

#include "zoo/weights_file.h"

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

// The untrained base, the same on every rank: initialisation drawn from the run's seed on the
// CPU, then moved to the run's device.
Classifier fresh_model(const RunContext& run, const ClassifierSpec& spec);

// Takes (`from_file`, read from `file`: base.file or the first imported checkpoint) or reloads
// the base model and returns its test accuracy, measured by `accuracy_of`; nothing when it must
// be trained (the model is then the fresh one drawn from the run's seed).
std::optional<double> ready_base(const RunContext& run, const BaseOptions& opts, const ClassifierSpec& spec,
                                 Classifier& model, const NamedTensors& from_file, const std::string& file,
                                 const std::function<double(const Classifier&)>& accuracy_of);

// Trains the base (data-parallel on every rank, or on rank 0 alone); rank 0 measures it with
// `accuracy_of` and writes base.pt.
// `train` false: base.pt is the untrained network (zoo.mode=scratch, whose runs start from their
// own initialisations: the base is only the architecture's template, every tensor replaced).
double train_and_save_base(const RunContext& run, const BaseOptions& opts, const DataSplits& data,
                           const ClassifierSpec& spec, const Classifier& model,
                           const std::function<double(const Classifier&)>& accuracy_of, bool train);

}  // namespace pdiff
