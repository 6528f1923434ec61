// generate.recalibrate_bn (issue: whole networks from independent trainings): a generated,
// averaged or noised network's BatchNorm running statistics need not match its weights, the
// known repair is to measure them again. For every row (a whole network's selected tensors)
// the running statistics the layout holds are reset and recomputed as the cumulative average
// over N training batches (momentum off, as PyTorch's momentum=None), in training mode for
// those layers only; every other layer runs as in evaluation. The weights are not touched.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "data/dataset.h"
#include "models/classifier.h"
#include "zoo/layout.h"

namespace pdiff {

class BnRecalibration {
 public:
  // `batches` of `batch` training images, the same for every row (their order from `seed`);
  // 0 batches: inactive. Throws naming generate.recalibrate_bn when the layout holds no
  // running statistics (a subset selection: the statistics are the base's, frozen).
  BnRecalibration(const Classifier& base, const ClassifierSpec& spec, const ParamLayout& layout,
                  const DataSplits& data, int64_t batches, uint64_t seed, int64_t batch = 128);
  bool active() const { return !images_.empty(); }
  int64_t batches() const { return static_cast<int64_t>(images_.size()); }
  // The rows (M, D) with their running statistics measured anew; as is when inactive.
  torch::Tensor operator()(const torch::Tensor& rows) const;

 private:
  Classifier model_;
  ParamLayout layout_;
  std::vector<torch::nn::BatchNorm2dImpl*> recalibrated_;  // the layers whose statistics the rows hold
  std::vector<c10::optional<double>> momentum_;              // theirs, restored after each row
  std::vector<torch::Tensor> images_;
};

}  // namespace pdiff
