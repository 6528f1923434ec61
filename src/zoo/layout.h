// The layout of a parameter subset: which named tensors, their shapes, and where each sits in
// the flat vector of length D. This one description drives flatten, assign, save and checks.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "io/file_io.h"
#include "models/classifier.h"

namespace pdiff {

struct ParamEntry {
  std::string name;            // PyTorch state-dict name, e.g. "bn3.weight"
  std::vector<int64_t> shape;
  int64_t offset = 0;          // start in the flat vector
  int64_t numel = 0;
};

class ParamLayout {
 public:
  ParamLayout() = default;
  // Layout of the named parameters (and floating-point buffers) of `model`: parameters in the
  // model's order, then buffers.
  static ParamLayout of(const Classifier& model, const std::vector<std::string>& names);
  // Reads keys "names", "shapes", "offsets" of a file and checks they are consistent.
  static ParamLayout load(const DictFile& f);
  void save(DictFile& f) const;

  int64_t dim() const { return dim_; }
  const std::vector<ParamEntry>& entries() const { return entries_; }
  std::vector<std::string> names() const;

  // The selected parameters of `model` as one vector (D).
  torch::Tensor flatten(const Classifier& model) const;
  // Writes a vector (D) into the model's parameters, in place.
  void assign(const Classifier& model, const torch::Tensor& vec) const;
  // The selected tensors of `model` (views that share storage).
  std::vector<torch::Tensor> tensors(const Classifier& model) const;
  // Those of them that are parameters (what an optimizer trains; buffers are not).
  std::vector<torch::Tensor> trainable(const Classifier& model) const;

  // Empty if equal, otherwise a sentence saying the first difference.
  std::string difference(const ParamLayout& other) const;

 private:
  std::vector<ParamEntry> entries_;
  int64_t dim_ = 0;
};

// Resolves `zoo.select` against a model: "auto" (ClassifierImpl::default_selection),
// "last_norm:N" (weight and bias of the last N normalization layers), "all" (every parameter),
// "whole" (every parameter and floating-point buffer: BatchNorm running statistics too, for
// networks whose checkpoints differ everywhere), or comma-separated glob patterns over parameter names
// ("bn3.*,bn4.weight"; a bare module name "bn3" means all its parameters). Throws naming the
// selection if nothing matches.
// Whether a layout entry is a BatchNorm running variance (kept >= 0 when assigned).
bool is_running_variance(const std::string& name);

std::vector<std::string> select_parameters(const Classifier& model, const std::string& selection);

}  // namespace pdiff
