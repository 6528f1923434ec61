// Test-set evaluation of many parameter vectors that differ from a base model only in a
// selected subset. The stages before the first selected parameter are computed once for the
// whole test set and cached; each vector then runs only the tail of the network.
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
  TailEvaluator(Classifier model, ParamLayout layout, Dataset test, bool full_forward = false,
                int64_t chunk = 500);  // small chunks stay in cache: measured fastest
  // Evaluates each row of params (M, D); shows progress when M > 1 and `label` is non-empty.
  EvalResult evaluate(const torch::Tensor& params, const std::string& label = "");
  int64_t tail_start() const { return start_; }
  bool uses_fast_tail() const { return fast_; }

 private:
  Classifier model_;
  ParamLayout layout_;
  Dataset test_;
  int64_t start_ = 0, chunk_;
  bool fast_ = false;                 // the model's own faster tail (ClassifierImpl::prepare_fast_tail)
  std::vector<torch::Tensor> cache_;  // stage-start activations, one tensor per chunk
};

}  // namespace pdiff
