// model.arch=torchscript: any PyTorch classifier saved with torch.jit.script(m).save(PATH) or
// torch.jit.trace, trained and evaluated through LibTorch's JIT. Its submodules, parameters
// and buffers are mirrored as torch::nn modules under the same names (aliasing the same
// tensors), so layouts, selections, state dicts and optimizers work as for the built-ins.
// The forward pass is one stage; evaluation is batched, and for many models that differ only
// in the selected tensors it computes the part of the forward that does not read them once per
// chunk of test images, where that is proven valid for the module (models/torchscript_split.h),
// else the full forward.
#pragma once
#include <torch/script.h>

#include "models/classifier.h"
#include "models/torchscript_split.h"

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
  // Modules with 4-D weights (convolutions) take channels-last weights and inputs, as the
  // built-in conv nets do, unless their forward refuses them (x.view(n, -1) after a convolution
  // does): oneDNN's convolutions are faster so (bench_torchscript).
  bool channels_last() const override { return channels_last_; }
  void train(bool on = true) override;
  // Tail-only evaluation (zoo/tail_evaluator.h, eval mode, start 0): splits the forward at the
  // first use of a selected tensor and says on stderr which path evaluation takes, one line
  // ("eval: TorchScript prefix cached up to ..." or "eval: TorchScript full forward (why)").
  bool prepare_fast_tail(int64_t start, const std::vector<std::string>& selected) override;
  // Runs the prefix on a chunk of images and keeps its values (one or more, of any type) in
  // this model until the next prepare_fast_tail; returns the chunk's key for fast_tail_forward.
  torch::Tensor fast_tail_cache(int64_t start, const torch::Tensor& h) override;
  // Runs the tail on a cached chunk with the current selected tensors: logits.
  torch::Tensor fast_tail_forward(int64_t start, const torch::Tensor& cached) override;
  // Writes the module, with its current weights, in eval mode, for Python's torch.jit.load
  // (to a temporary name, then renamed).
  void save_module(const std::string& path);

 private:
  torch::jit::Module module_;
  // Whether forward with channels-last 4-D weights and input gives what it gives without
  // (on a varied input of the shape of `zeros`).
  bool accepts_channels_last(const torch::Tensor& zeros);

  bool flatten_input_;
  bool channels_last_ = false;
  std::vector<std::string> names_;  // every parameter
  std::vector<std::string> norms_;
  ScriptSplit split_;                             // valid after prepare_fast_tail returned true
  std::vector<std::vector<c10::IValue>> chunks_;  // the prefix's values, per cached chunk
  int64_t generation_ = 0;                        // counts prepare_fast_tail calls: stale keys fail
};

}  // namespace pdiff
