// ConvNeXt-Tiny sized for small images: depths (3, 3, 9, 3), widths (96, 192, 384, 768), a
// 2x2 stride-2 stem (instead of 4x4) so 32 px inputs end at 2x2. Blocks: depthwise 7x7 conv,
// LayerNorm, Linear 4x, GELU, Linear, layer scale, residual (no drop path). Names follow
// timm (stem.0/1, stages.i.downsample.0/1, stages.i.blocks.j.*, head.norm, head.fc).
#pragma once
#include "models/classifier.h"
#include "models/residual_block.h"

#include <array>

namespace pdiff {

struct ConvNextConfig {
  std::array<int64_t, 4> depths = {3, 3, 9, 3};
  std::array<int64_t, 4> dims = {96, 192, 384, 768};
  int64_t stem_patch = 2;
  int64_t mlp_ratio = 4;
  double layer_scale_init = 1e-6;
  double norm_eps = 1e-6;
};

// LayerNorm over the channels of a (B, C, H, W) tensor; parameters weight and bias (C).
class LayerNorm2dImpl : public torch::nn::Module {
 public:
  LayerNorm2dImpl(int64_t channels, double eps);
  torch::Tensor forward(torch::Tensor x);
  torch::Tensor weight, bias;

 private:
  double eps_;
};
TORCH_MODULE(LayerNorm2d);

class ConvNextBlockImpl;  // defined in convnext.cpp

class ConvNextImpl : public ClassifierImpl {
 public:
  explicit ConvNextImpl(const ClassifierSpec& spec, const ConvNextConfig& config = {});
  // Stages: stem, one per block (stages.i.blocks.j; the first block of stages 1-3 also runs
  // that stage's downsample), head (global average pool + head.norm + head.fc).
  int64_t num_stages() const override { return static_cast<int64_t>(blocks_.size()) + 2; }
  torch::Tensor forward_stage(int64_t i, torch::Tensor x) override;
  std::vector<std::string> stage_params(int64_t i) const override;
  bool channels_last() const override { return true; }
  bool supports_split_batches() const override { return true; }  // LayerNorm: per image
  // Tail from inside a block (e.g. its norm): the block's depthwise-conv output and its input
  // are cached (models/residual_block.h).
  bool prepare_fast_tail(int64_t start, const std::vector<std::string>& selected) override;
  torch::Tensor fast_tail_cache(int64_t start, const torch::Tensor& h) override;
  torch::Tensor fast_tail_forward(int64_t start, const torch::Tensor& cached) override;

 private:
  struct BlockRef {
    torch::nn::Sequential downsample{nullptr};  // only on the first block of stages 1-3
    std::shared_ptr<ConvNextBlockImpl> block;
    std::string stage_prefix, block_prefix;     // "stages.i.", "stages.i.blocks.j."
  };
  torch::nn::Sequential stem{nullptr};
  std::vector<BlockRef> blocks_;
  torch::nn::LayerNorm head_norm{nullptr};  // head.norm
  torch::nn::Linear head_fc{nullptr};       // head.fc
  ResidualTail tail_;
};

}  // namespace pdiff
