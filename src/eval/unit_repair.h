// generate.repair (REPAIR: Jordan, Sedghi, Saukh, Entezari and Neyshabur, 2023): averaging or
// generating between aligned networks shrinks their hidden units' weight vectors, and with them
// the spread of each unit's pre-activation (variance collapse), which costs accuracy that the
// weights' directions do not explain. For networks without BatchNorm (an MLP's Linear + ReLU
// units) the repair is to rescale each hidden unit: its incoming weights and bias are changed
// so that its pre-activation's mean and standard deviation on N training batches match the
// originals' average for that unit (the units correspond: the zoo is aligned). The layers are
// repaired from the first on, each measured after the ones before it were repaired; the last
// layer (the logits) is not touched. BatchNorm networks have generate.recalibrate_bn.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "data/dataset.h"
#include "models/classifier.h"
#include "zoo/layout.h"

namespace pdiff {

class UnitRepair {
 public:
  // `batches` of `batch` training images, the same for every row (their order from `seed`), and
  // the target statistics measured on them from `originals` (K, D: the zoo's rows); 0 batches:
  // inactive. Throws naming generate.repair for an architecture other than the MLP, or a
  // layout without every weight and bias of its hidden layers.
  UnitRepair(const Classifier& base, const ClassifierSpec& spec, const ParamLayout& layout, const DataSplits& data,
             const torch::Tensor& originals, int64_t batches, uint64_t seed, int64_t batch = 128);
  bool active() const { return !images_.empty(); }
  // The rows (M, D) with every hidden unit rescaled to the target statistics; as is when inactive.
  torch::Tensor operator()(const torch::Tensor& rows) const;
  // Each hidden layer's per-unit pre-activation mean and standard deviation, of the network in
  // `row`, on the batches: {mean_1, std_1, mean_2, std_2, ...}.
  std::vector<torch::Tensor> statistics(const torch::Tensor& row) const;

 private:
  Classifier model_;
  ParamLayout layout_;
  std::vector<torch::nn::LinearImpl*> hidden_;  // fc1 .. fc(N-1), whose outputs go through ReLU
  std::vector<torch::Tensor> images_;           // flattened
  std::vector<torch::Tensor> target_;           // statistics(): the originals' average
};

}  // namespace pdiff
