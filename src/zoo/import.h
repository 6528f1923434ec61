// zoo.import (`pdiff import`): the zoo from checkpoints saved in Python instead of collected.
// Each checkpoint is a full state dict (read as base.file reads one); p-diff assumes that
// everything outside the selection is the base's, so every other tensor must equal the base
// (base.file, or the first checkpoint): a difference is an error naming the checkpoint and
// the tensor.
#pragma once
#include <string>
#include <vector>

#include "models/classifier.h"
#include "zoo/layout.h"
#include "zoo/weights_file.h"

namespace pdiff {

// The checkpoint files of a zoo.import value: a folder (its *.pt, *.pth and *.ckpt files) or a
// glob pattern, sorted by name, without `base_file` (base.file, never a checkpoint of the zoo,
// even when it sits in the same folder). Throws naming zoo.import when nothing matches.
std::vector<std::string> import_paths(const std::string& source, const std::string& base_file = "");

// zoo.select=moving: the tensors (parameters and floating-point buffers) that differ from `base`
// in any of the checkpoints, in the model's order; says which. Throws when none does.
std::vector<std::string> moving_tensors(const std::vector<std::string>& paths, const Classifier& model,
                                        const NamedTensors& base);

// Reads every checkpoint for `model` and returns the selected subset of each as rows (K, D);
// checks every tensor (names, shapes, finite) and that the tensors outside the layout equal
// `base` (num_batches_tracked aside: it has no effect on evaluation). Says which selected
// tensors move across the checkpoints and which stay constant.
//
// Running statistics outside the layout that drift from the base's (BatchNorm left in training
// mode while the checkpoints trained: the official code's collection) are no error: with
// zoo.import_stats = base they are dropped (the base's are used, the accuracies measured so);
// with own they are listed in `drifting`, every checkpoint's name once, in the model's order,
// and the caller imports again with them in the layout (each checkpoint's own carried with it).
torch::Tensor import_checkpoints(const std::vector<std::string>& paths, const Classifier& model,
                                 const NamedTensors& base, const ParamLayout& layout,
                                 const std::string& import_stats = "own", std::vector<std::string>* drifting = nullptr);

// Whether `name` is a normalisation layer's running statistic (running_mean, running_var).
bool is_running_statistic(const std::string& name);

}  // namespace pdiff
