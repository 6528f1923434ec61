// The forward of a TorchScript module split at the first use of a set of its tensors, for
// tail-only evaluation of models that differ only in those tensors (zoo/tail_evaluator.h):
// the prefix computes, once per batch of test images, everything that depends on the input and
// on none of the selected tensors; the tail computes the rest from the prefix's values, once
// per model. A split is made only where it is proven to give the full forward's result in eval
// mode; otherwise split_forward says why not, and the caller runs the full forward.
//
// How it proves it, on the forward graph with every call inlined and every module's `training`
// read as false (constant branches folded: BatchNorm's training-only buffer updates vanish,
// dropout becomes deterministic):
//   - a node is tainted when it, or any node inside its blocks, reads a selected tensor (a
//     prim::GetAttr whose dotted path from self names it) or a tainted value;
//   - untainted nodes that depend on the input (or write in place, or whose values are
//     written) form the prefix; untainted nodes that depend on neither (attribute reads,
//     constants) are recomputed by the tail; the frontier is the prefix's values that tainted
//     nodes or the return use;
//   - refused: side effects other than raising or warning, random ops, prim::SetAttr, the
//     module object used other than by prim::GetAttr (calls that cannot be inlined), in-place
//     writes to the input or to a module tensor (alias analysis), a tail write to a value the
//     prefix computes, a prefix write after the first tainted node (it would run before
//     reads it followed), a forward with more than one argument, and a prefix with no tensor
//     op (the first op uses a selected tensor: nothing to cache).
#pragma once
#include <torch/script.h>

#include <memory>
#include <string>
#include <vector>

namespace torch::jit {
struct GraphFunction;
}

namespace pdiff {

struct ScriptSplit {
  // Both null when no split was proven valid.
  std::shared_ptr<torch::jit::GraphFunction> prefix;  // (self, x) -> (the frontier values, as a tuple)
  std::shared_ptr<torch::jit::GraphFunction> tail;    // (self, frontier values...) -> forward's output
  size_t frontier = 0;                                // how many values the tuple holds
  // One phrase for the log: "prefix cached up to aten::batch_norm on features.5.weight (6 of
  // 11 tensor ops)", or why the full forward runs: "full forward (aten::rand_like is random)".
  std::string summary;
  explicit operator bool() const { return prefix != nullptr; }
};

// Splits module.forward for the selected tensors (state-dict names, e.g. "bn3.weight").
// Never throws for a module it cannot split: the result is then empty, with the reason.
ScriptSplit split_forward(const torch::jit::Module& module, const std::vector<std::string>& selected);

}  // namespace pdiff
