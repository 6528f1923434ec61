// Multi-layer perceptron classifier: flatten, then Linear+ReLU for each width in
// spec.mlp_hidden, then a Linear to the classes. Layers are named fc1, fc2, ...
#pragma once
#include "models/classifier.h"

namespace pdiff {

class MlpImpl : public ClassifierImpl {
 public:
  explicit MlpImpl(const ClassifierSpec& spec);
  // Stages: one per Linear layer (fc1+relu, fc2+relu, ..., fcN); stage 0 also flattens.
  int64_t num_stages() const override { return static_cast<int64_t>(fcs_.size()); }
  torch::Tensor forward_stage(int64_t i, torch::Tensor x) override;
  std::vector<std::string> stage_params(int64_t i) const override;
  bool supports_split_batches() const override { return true; }  // no batch statistics
  bool splits_faster_on_cores() const override { return true; }

 private:
  std::vector<torch::nn::Linear> fcs_;  // fc1 .. fcN; the last one maps to the classes
};

}  // namespace pdiff
