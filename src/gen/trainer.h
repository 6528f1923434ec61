// The one training loop of the generative models: AdamW with cosine learning rate over a
// module's parameters, resumable from a partial file, losses logged to CSV, and a stop with a
// clear message at the first non-finite loss (the last good partial file is kept).
#pragma once
#include <torch/torch.h>

#include <functional>
#include <string>

#include "core/precision.h"
#include "dist/group.h"
#include "io/file_io.h"

namespace pdiff {

struct TrainLoop {
  std::string name;            // "ae" or "ldm": progress label and error messages
  int64_t steps = 1000;
  double lr = 1e-3, weight_decay = 0;
  std::string partial_path;    // resume file, removed when training completes
  std::string csv_path;        // step,loss
  std::string fingerprint;     // a partial file with another fingerprint is ignored
  int64_t check_every = 100;   // steps between loss checks / partial saves (one host sync each)
  Precision precision = Precision::Fp32;  // of each step's forward pass (its loss is fp32)
  // The loss of one step, the mean over rows [part.begin, part.end) of the step's batch of
  // `batch` rows. A job of several processes trains data-parallel: each rank its share of every
  // batch, the gradients summed over the ranks (dist/group.h), so every rank holds the same
  // weights after each step. Alone, part is the whole batch.
  int64_t batch = 1;
  std::function<torch::Tensor(int64_t step, const Share& part)> loss;
  std::function<void(int64_t step)> after_step;           // e.g. EMA update (optional)
  std::function<void(DictFile&)> save_extra;              // extra state to resume (optional)
  std::function<void(const DictFile&)> load_extra;
};

// Trains `module` in place. Returns the loss of every step (steps).
torch::Tensor run_training(torch::nn::Module& module, const TrainLoop& loop);

// Copies a module's named parameters and buffers into / out of a DictFile under a prefix.
void save_module(const torch::nn::Module& module, DictFile& f, const std::string& prefix);
void load_module(torch::nn::Module& module, const DictFile& f, const std::string& prefix);

// Number of trainable numbers in a module (its parameters' elements).
int64_t parameter_count(const torch::nn::Module& module);

}  // namespace pdiff
