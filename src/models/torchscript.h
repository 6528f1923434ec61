// model.arch=torchscript: any PyTorch classifier saved with torch.jit.script(m).save(PATH) or
// torch.jit.trace, trained and evaluated through LibTorch's JIT. Its submodules, parameters
// and buffers are mirrored as torch::nn modules under the same names (aliasing the same
// tensors), so layouts, selections, state dicts and optimizers work as for the built-ins.
// The forward pass is one stage: evaluation runs the full forward, batched.
#pragma once
#include <torch/script.h>

#include "models/classifier.h"

namespace pdiff {

class TorchScriptImpl : public ClassifierImpl {
 public:
  // Loads spec.file and runs it once in eval mode on two zero inputs: the output must be
  // logits [2, spec.num_classes]. Throws pdiff::Error naming model.file otherwise.
  explicit TorchScriptImpl(const ClassifierSpec& spec);

  int64_t num_stages() const override { return 1; }
  // Feature vectors (image_size 1, held as [N, F, 1, 1]) are passed as [N, F].
  torch::Tensor forward_stage(int64_t i, torch::Tensor x) override;
  std::vector<std::string> stage_params(int64_t i) const override { return names_; }
  // BatchNorm*, LayerNorm, GroupNorm and InstanceNorm* submodules with parameters, by module
  // type, in the order the module defines them.
  std::vector<std::string> norm_layers() const override { return norms_; }
  void train(bool on = true) override;
  // Writes the module, with its current weights, in eval mode, for Python's torch.jit.load
  // (to a temporary name, then renamed).
  void save_module(const std::string& path);

 private:
  torch::jit::Module module_;
  bool flatten_input_;
  std::vector<std::string> names_;  // every parameter
  std::vector<std::string> norms_;
};

}  // namespace pdiff
