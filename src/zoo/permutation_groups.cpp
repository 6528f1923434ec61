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

}  // namespace

std::vector<PermutationGroup> permutation_groups(const Classifier& model, const std::string& arch) {
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& [name, t] : state_dict(model)) tensors[name] = t;
  std::vector<PermutationGroup> groups;
  if (arch == "mlp") groups = mlp_groups(tensors);
  else if (arch == "convnet4") groups = convnet4_groups(tensors);
  else
    throw Error("zoo.align: pdiff knows the permutation symmetries of model.arch=mlp and convnet4, not " + arch +
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
