// Activation matching (Ainsworth, Hayase and Srinivasa, "Git Re-Basin", 2023, section 3.1): the
// permutation of each group's units that pairs every unit of one network with the unit of the
// reference whose activations on the same training images correlate best. Unlike weight
// matching it sees the data, and each group is one linear assignment: a network's activations
// at a layer are the same set of values whatever the earlier layers' order.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "data/dataset.h"
#include "models/classifier.h"
#include "zoo/layout.h"
#include "zoo/permutation_groups.h"

namespace pdiff {

// Per group, the stages whose input holds its units' activations: every stage that reads them
// (uses a tensor the group permutes along axis 1). An MLP layer's units after ReLU, a ConvNet-4
// channel's after BatchNorm, pooling and ReLU; a ResNet stream's at every block that reads it.
// Throws pdiff::Error naming the group and the architecture when a group's units are produced
// and read within one stage (inside a ResNet block), where pdiff sees no activation of them.
std::vector<std::vector<int64_t>> activation_stages(const Classifier& model, const std::string& arch,
                                                   const std::vector<PermutationGroup>& groups);

class ActivationMatching {
 public:
  // `batches` of `batch` training images, the same for every network (their order from `seed`);
  // one sample per image (and pixel, for a convolution's channels).
  ActivationMatching(const Classifier& base, const ClassifierSpec& spec, const ParamLayout& layout,
                     const std::vector<PermutationGroup>& groups, const DataSplits& data, int64_t batches,
                     uint64_t seed, int64_t batch = 128);
  // Per group, its units' activations (units, samples), each unit standardised (mean 0, norm 1),
  // for the network whose selected tensors are `row` (D under the layout).
  std::vector<torch::Tensor> activations(const torch::Tensor& row) const;
  // One permutation per group (int64): unit i of the aligned network is unit perm[i] of the
  // network `other_row` (activations `other`), the one whose correlation with the reference's
  // unit i the assignment chose. Units that never fire on the batches correlate with nothing:
  // among those, the incoming weights (cosine, groups in forward order) decide, with a weight
  // small enough never to outvote a correlation.
  std::vector<torch::Tensor> match(const std::vector<torch::Tensor>& reference, const torch::Tensor& reference_row,
                                   const std::vector<torch::Tensor>& other, const torch::Tensor& other_row) const;

 private:
  Classifier model_;
  ParamLayout layout_;
  std::vector<PermutationGroup> groups_;
  std::vector<std::vector<int64_t>> reading_stages_;  // per group
  std::vector<torch::Tensor> images_;
};

}  // namespace pdiff
