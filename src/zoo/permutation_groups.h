// The permutation symmetries of a network: reordering the units of a hidden layer (an MLP's
// neurons, a convolution's channels) and every tensor that reads or writes them the same way
// leaves the function unchanged. Separately trained networks differ by such reorderings, so
// they are aligned (zoo/weight_matching.h) before they are averaged or generated.
#pragma once
#include <string>
#include <vector>

#include "models/classifier.h"

namespace pdiff {

// One tensor that a group permutes, and along which axis.
struct PermutedAxis {
  std::string tensor;  // state-dict name, e.g. "fc2.weight"
  int64_t axis = 0;
};

// Units that may be reordered together: permuting `size` units by p means index_select(axis, p)
// on every listed tensor.
struct PermutationGroup {
  std::string name;  // e.g. "fc1" (its output units)
  int64_t size = 0;
  std::vector<PermutedAxis> axes;
};

// The groups of a model: the hidden units of every layer of an MLP but the last; the channels
// of ConvNet-4's four convolutions with their BatchNorm's parameters and running statistics;
// ResNet's channels, one group per residual stream (a stage's blocks add into it) and one per
// convolution inside a block. Checked against the model's tensors (names and sizes). Throws
// pdiff::Error naming the architecture for one whose groups pdiff does not know (ViT, ConvNeXt,
// TorchScript modules), so no zoo is aligned wrongly.
std::vector<PermutationGroup> permutation_groups(const Classifier& model, const std::string& arch);

}  // namespace pdiff
