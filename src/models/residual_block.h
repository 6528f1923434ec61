// Residual blocks (ResNet's BasicBlock and Bottleneck, ConvNeXt's block) seen as a chain of ops
// plus a shortcut: out = merge(chain(x), shortcut(x)). Written this way so that tail-only
// evaluation can start inside a block (ResidualTail): when the first trained parameter sits in
// op j > 0, the shortcut and the chain's first j ops do not change between models.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "models/classifier.h"

namespace pdiff {

class ResidualBlockImpl : public torch::nn::Module {
 public:
  virtual int64_t num_ops() const = 0;
  virtual torch::Tensor op(int64_t i, torch::Tensor h) = 0;
  // Op i in eval mode for tail-only evaluation: may round differently (Winograd), so callers
  // redo close calls with op(); default: op itself.
  virtual torch::Tensor fast_op(int64_t i, torch::Tensor h) { return op(i, h); }
  // Name (within the block) of the parameter, or module prefix ending in '.', that op i uses;
  // "" for none.
  virtual std::string op_params(int64_t i) const = 0;
  virtual torch::Tensor shortcut(const torch::Tensor& x) { return x; }
  virtual std::string shortcut_params() const { return ""; }  // e.g. "downsample."
  virtual torch::Tensor merge(const torch::Tensor& chain, const torch::Tensor& shortcut) = 0;

  torch::Tensor run_ops(torch::Tensor h, int64_t from, int64_t to, bool fast = false);
  torch::Tensor forward(const torch::Tensor& x) { return merge(run_ops(x, 0, num_ops()), shortcut(x)); }
  // The block's layers for ClassifierImpl::stage_layers (names under `prefix`, e.g. "layer1.0."):
  // the block's input, read by the shortcut and op 0, then the input of every later op.
  std::vector<std::vector<std::string>> layers(const std::string& prefix) const;
  // forward(), handing `seen` the input of each of layers() by its index.
  torch::Tensor forward_showing(const torch::Tensor& x, const ClassifierImpl::LayerInputs& seen);
};

// Whether any selected name lies under `prefix` (a module prefix ending in '.' or a full name).
bool selects_under(const std::vector<std::string>& selected, const std::string& prefix);

// Tail-only evaluation from inside a residual block. The cache packs, per image, the shortcut
// and the chain's output before the first op that uses a selected parameter.
class ResidualTail {
 public:
  // False when the selection touches the block's shortcut or its first op (nothing to cache
  // beyond the block input). `block_prefix` is the block's name prefix, e.g. "layer4.1.".
  bool prepare(ResidualBlockImpl& block, const std::string& block_prefix, const std::vector<std::string>& selected);
  // x: the block's input -> packed (B, shortcut + chain values).
  torch::Tensor cache(ResidualBlockImpl& block, const torch::Tensor& x);
  // packed -> the block's output; `fast` uses the block's fast_op.
  torch::Tensor finish(ResidualBlockImpl& block, const torch::Tensor& packed, bool fast = false);

 private:
  struct Part {
    std::vector<int64_t> shape;  // per image
    bool channels_last = false;  // restored on unpacking, so the ops see the layout they saw
    int64_t numel() const;
    torch::Tensor unpack(const torch::Tensor& flat) const;
  };
  static Part describe(const torch::Tensor& t);
  int64_t op_ = 0;
  Part shortcut_, chain_;
};

}  // namespace pdiff
