// ResNet-18 (BasicBlock) and ResNet-50 (Bottleneck) with the CIFAR stem (3x3 stride-1 conv1,
// no max-pool). Module names and registration order match torchvision's state dicts.
#pragma once
#include "models/classifier.h"
#include "models/residual_block.h"

namespace pdiff {

class ResNetImpl : public ClassifierImpl {
 public:
  // depth: 18 or 50.
  ResNetImpl(const ClassifierSpec& spec, int depth);
  // Stages: stem (conv1+bn1+relu), one per residual block (layer1.0 ... layer4.N),
  // head (avgpool+flatten+fc).
  int64_t num_stages() const override { return static_cast<int64_t>(blocks_.size()) + 2; }
  torch::Tensor forward_stage(int64_t i, torch::Tensor x) override;
  std::vector<std::string> stage_params(int64_t i) const override;
  // A block's stage shows the input of every op (models/residual_block.h).
  std::vector<std::vector<std::string>> stage_layers(int64_t i) const override;
  torch::Tensor forward_stage_showing(int64_t i, torch::Tensor x, const LayerInputs& seen) override;
  bool channels_last() const override { return true; }
  // Every batch norm shares its statistics across a split batch (kernels/batch_sync.h).
  bool supports_split_batches() const override { return true; }
  // Tail from inside a block (e.g. layer4.1.bn1): the block's conv1 output and its shortcut
  // are cached (models/residual_block.h).
  bool prepare_fast_tail(int64_t start, const std::vector<std::string>& selected) override;
  torch::Tensor fast_tail_cache(int64_t start, const torch::Tensor& h) override;
  torch::Tensor fast_tail_forward(int64_t start, const torch::Tensor& cached) override;

 private:
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  std::vector<std::shared_ptr<ResidualBlockImpl>> blocks_;  // layer1.0, layer1.1, ..., layer4.N
  std::vector<std::string> block_names_;                  // "layer1.0.", ...
  torch::nn::Linear fc{nullptr};
  ResidualTail tail_;
};

}  // namespace pdiff
