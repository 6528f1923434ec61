// Test-set evaluation of many parameter vectors that differ from a base model only in a
// selected subset. The stages before the first selected parameter are computed once for the
// whole test set and cached; each vector then runs only the tail of the network.
//
// Off the CPU's hand-written fast tails (a GPU, or PDIFF_KERNELS=generic), models are evaluated
// in passes of several: the tail stages that use a selected parameter run model by model, and
// every stage between them runs once for the pass on the models' activations stacked along the
// batch, one launch for all of them (ConvNet-4's conv4 and head, ResNet's head, ...).
#pragma once
#include <torch/torch.h>

#include "data/dataset.h"
#include "models/classifier.h"
#include "zoo/layout.h"

namespace pdiff {

struct EvalResult {
  torch::Tensor predictions;  // (M, N) uint8 predicted class per test image
  torch::Tensor accuracy;     // (M) float64, percent
};

class TailEvaluator {
 public:
  // `model` is used in eval mode and its selected parameters are overwritten by evaluate().
  // full_forward = true disables the cache (the reference path; for tests and benchmarks).
  // models_per_pass: 0 = auto (PDIFF_MODELS_PER_PASS if set, else as many as fit a memory
  // budget on a GPU and 1 on the CPU; always 1 with a fast tail).
  TailEvaluator(Classifier model, ParamLayout layout, Dataset test, bool full_forward = false,
                int64_t chunk = 500,  // small chunks stay in cache: measured fastest
                int64_t models_per_pass = 0);
  // Evaluates each row of params (M, D); shows progress when M > 1 and `label` is non-empty.
  EvalResult evaluate(const torch::Tensor& params, const std::string& label = "");
  int64_t tail_start() const { return start_; }
  bool uses_fast_tail() const { return fast_; }
  int64_t models_per_pass() const { return per_pass_; }
  int64_t test_size() const { return test_.size(); }

 private:
  Classifier model_;
  ParamLayout layout_;
  Dataset test_;
  int64_t start_ = 0, chunk_;
  bool fast_ = false;                 // the model's own faster tail (ClassifierImpl::prepare_fast_tail)
  std::vector<torch::Tensor> cache_;  // stage-start activations, one tensor per chunk
  // The tail as runs of stages [from, to): per_model runs use selected parameters.
  struct Run {
    int64_t from, to;
    bool per_model;
  };
  std::vector<Run> runs_;
  int64_t per_pass_ = 1;

  int64_t auto_models_per_pass();
  // Predictions (models, chunk images) of params rows [first, first + count) on cache chunk c.
  torch::Tensor predict_pass(const torch::Tensor& params, int64_t first, int64_t count, const torch::Tensor& h);
};

}  // namespace pdiff
