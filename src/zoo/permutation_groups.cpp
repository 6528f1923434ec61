#include "zoo/permutation_groups.h"

#include <map>

#include "core/error.h"

namespace pdiff {

namespace {

std::vector<PermutationGroup> mlp_groups(const std::map<std::string, torch::Tensor>& tensors) {
  std::vector<PermutationGroup> groups;
  // fc1 .. fcL; the units of fcL are the classes, which keep their order.
  for (int i = 1; tensors.count("fc" + std::to_string(i + 1) + ".weight"); ++i) {
    const std::string fc = "fc" + std::to_string(i), next = "fc" + std::to_string(i + 1);
    groups.push_back({fc, tensors.at(fc + ".weight").size(0), {{fc + ".weight", 0}, {fc + ".bias", 0}, {next + ".weight", 1}}});
  }
  return groups;
}

std::vector<PermutationGroup> convnet4_groups(const std::map<std::string, torch::Tensor>& tensors) {
  std::vector<PermutationGroup> groups;
  for (int i = 1; i <= 4; ++i) {
    const std::string conv = "conv" + std::to_string(i), bn = "bn" + std::to_string(i);
    const std::string reader = i < 4 ? "conv" + std::to_string(i + 1) + ".weight" : "fc.weight";
    PermutationGroup g{conv, tensors.at(conv + ".weight").size(0), {{conv + ".weight", 0}}};
    for (const char* t : {".weight", ".bias", ".running_mean", ".running_var"}) g.axes.push_back({bn + t, 0});
    g.axes.push_back({reader, 1});  // ConvNet-4 pools conv4's channels before fc: one column each
    groups.push_back(g);
  }
  return groups;
}

// A convolution's (or linear layer's) output units with its bias and BatchNorm, if any.
void add_outputs(PermutationGroup& g, const std::map<std::string, torch::Tensor>& tensors, const std::string& layer,
                 const std::string& bn) {
  g.axes.push_back({layer + ".weight", 0});
  if (tensors.count(layer + ".bias")) g.axes.push_back({layer + ".bias", 0});
  for (const char* t : {".weight", ".bias", ".running_mean", ".running_var"})
    if (tensors.count(bn + t)) g.axes.push_back({bn + t, 0});
}

// ResNet (BasicBlock or Bottleneck, torchvision's names). The residual stream of a stage is one
// group: the additions tie every block's output channels, and the shortcut's, to the stream's,
// so the stem (or the first block's downsample) and every block's last convolution share one
// permutation, which the next block's first convolution, the downsample and fc read. Inside a
// block, each convolution but the last has its own group.
std::vector<PermutationGroup> resnet_groups(const std::map<std::string, torch::Tensor>& tensors) {
  std::vector<PermutationGroup> groups;
  PermutationGroup stream{"conv1", tensors.at("conv1.weight").size(0), {}};
  add_outputs(stream, tensors, "conv1", "bn1");
  for (int layer = 1; tensors.count("layer" + std::to_string(layer) + ".0.conv1.weight"); ++layer)
    for (int b = 0;; ++b) {
      const std::string p = "layer" + std::to_string(layer) + "." + std::to_string(b) + ".";
      if (!tensors.count(p + "conv1.weight")) break;
      const int last = tensors.count(p + "conv3.weight") ? 3 : 2;
      stream.axes.push_back({p + "conv1.weight", 1});  // the block reads the stream it joins
      if (tensors.count(p + "downsample.0.weight")) {   // and starts a new one
        stream.axes.push_back({p + "downsample.0.weight", 1});
        groups.push_back(stream);
        stream = PermutationGroup{p + "downsample", tensors.at(p + "downsample.0.weight").size(0), {}};
        add_outputs(stream, tensors, p + "downsample.0", p + "downsample.1");
      }
      for (int i = 1; i < last; ++i) {
        const std::string conv = p + "conv" + std::to_string(i);
        PermutationGroup inner{conv, tensors.at(conv + ".weight").size(0), {}};
        add_outputs(inner, tensors, conv, p + "bn" + std::to_string(i));
        inner.axes.push_back({p + "conv" + std::to_string(i + 1) + ".weight", 1});
        groups.push_back(inner);
      }
      add_outputs(stream, tensors, p + "conv" + std::to_string(last), p + "bn" + std::to_string(last));
    }
  stream.axes.push_back({"fc.weight", 1});  // after global average pooling: one column per channel
  groups.push_back(stream);
  return groups;
}

}  // namespace

std::vector<PermutationGroup> permutation_groups(const Classifier& model, const std::string& arch) {
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& [name, t] : state_dict(model)) tensors[name] = t;
  std::vector<PermutationGroup> groups;
  if (arch == "mlp") groups = mlp_groups(tensors);
  else if (arch == "convnet4") groups = convnet4_groups(tensors);
  else if (arch == "resnet18" || arch == "resnet50") groups = resnet_groups(tensors);
  else
    throw Error("zoo.align: pdiff knows the permutation symmetries of model.arch=mlp, convnet4, resnet18 and "
                "resnet50, not " + arch + (arch == "vit_tiny" || arch == "convnext_tiny"
                    ? " (its attention heads and layer norms tie units in ways pdiff does not permute)" : "") +
                "; use zoo.align=none (the zoo is used as it is)");
  for (const auto& g : groups)
    for (const auto& a : g.axes) {
      auto it = tensors.find(a.tensor);
      check(it != tensors.end() && a.axis < it->second.dim() && it->second.size(a.axis) == g.size,
            "permutation group " + g.name + ": tensor " + a.tensor + " has no axis " + std::to_string(a.axis) +
                " of size " + std::to_string(g.size) + " in this " + arch);
    }
  return groups;
}

}  // namespace pdiff
