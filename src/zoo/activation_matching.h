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

// Where a group's activations are seen: the input of layer `layer` of stage `stage`
// (ClassifierImpl::stage_layers).
struct LayerInput {
  int64_t stage = 0;
  size_t layer = 0;
};

// Per group, the layer inputs that hold its units' activations: every layer that reads them (uses
// a tensor the group permutes along axis 1). An MLP layer's units after ReLU, a ConvNet-4
// channel's after BatchNorm, pooling and ReLU, a ResNet block's inner channel's at the next
// convolution, a ResNet stream's at every block that reads it and at the head. Throws
// pdiff::Error naming the group and the architecture when a layer that reads a group's units
// also produces them, or none reads them.
std::vector<std::vector<LayerInput>> activation_inputs(const Classifier& model, const std::string& arch,
                                                      const std::vector<PermutationGroup>& groups);

class ActivationMatching {
 public:
  // `batches` of `batch` training images, the same for every network (their order from `seed`);
  // one sample per image (and pixel, for a convolution's channels).
  ActivationMatching(const Classifier& base, const ClassifierSpec& spec, const ParamLayout& layout,
                     const std::vector<PermutationGroup>& groups, const DataSplits& data, int64_t batches,
                     uint64_t seed, int64_t batch = 128);
  // A convolution's channels are sampled at this many of their (image, pixel) positions per
  // layer input, the same for every network, and kept in float32: a ResNet-18's activations
  // take ~130 MB, a ResNet-50's ~0.9 GB.
  static constexpr int64_t kSamplesPerInput = 8192;
  // At most this many passes over the groups to settle the tie-breaks (match).
  static constexpr int kTieBreakPasses = 5;
  // Per group, its units' activations (units, samples), each unit standardised (mean 0, norm 1),
  // for the network whose selected tensors are `row` (D under the layout).
  std::vector<torch::Tensor> activations(const torch::Tensor& row) const;
  // One permutation per group (int64): unit i of the aligned network is unit perm[i] of the
  // network `other_row` (activations `other`), the one whose correlation with the reference's
  // unit i the assignment chose. Units that never fire on the batches correlate with nothing:
  // among those, the incoming weights (cosine, with the other groups' units aligned) decide, with
  // a weight small enough never to outvote a correlation.
  std::vector<torch::Tensor> match(const std::vector<torch::Tensor>& reference, const torch::Tensor& reference_row,
                                   const std::vector<torch::Tensor>& other, const torch::Tensor& other_row) const;

 private:
  Classifier model_;
  ParamLayout layout_;
  std::vector<PermutationGroup> groups_;
  std::vector<std::vector<LayerInput>> inputs_;  // per group
  std::vector<torch::Tensor> images_;
};

}  // namespace pdiff
