// Trained weights written by Python: `torch.save(model.state_dict(), PATH)`, or a checkpoint
// dict holding the state dict under "state_dict" (Lightning, timm) or "model" (timm, many
// training scripts). Used by base.file to start from those weights instead of base training.
#pragma once
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

namespace pdiff {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// Reads the state dict in `path` for a model whose state is `expected` (names and shapes) and
// returns its tensors under the expected names, in the expected order. Keys that carry a
// common prefix ("model.", "module.", "net.", ...) are matched with it stripped. Every tensor
// is checked: a missing one, an extra one, another shape or a non-finite value is a
// pdiff::Error naming the tensor and the file; `key` names the config key that gave the path.
NamedTensors read_weights_file(const std::string& path, const NamedTensors& expected, const std::string& key);

}  // namespace pdiff
