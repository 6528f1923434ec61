// ConvNet-4 of the benchmark task (SPEC section 5): four Conv3x3(no bias)-BN-ReLU blocks,
// channels 32, 64, 128, 256, MaxPool2d(2) after blocks 1-3, global average pool, Linear.
#pragma once
#include "models/classifier.h"
#include "kernels/close_calls.h"

namespace pdiff {

class ConvNet4Impl : public ClassifierImpl {
 public:
  explicit ConvNet4Impl(const ClassifierSpec& spec);
  // Stages: conv1, bn1+relu+pool, conv2, bn2+..., conv3, bn3+..., conv4, bn4+relu+gap, fc.
  int64_t num_stages() const override { return 9; }
  torch::Tensor forward_stage(int64_t i, torch::Tensor x) override;
  std::vector<std::string> stage_params(int64_t i) const override;
  bool channels_last() const override { return true; }
  // Every batch norm shares its statistics across a split batch (kernels/batch_sync.h).
  bool supports_split_batches() const override { return true; }
  bool splits_faster_on_cores() const override { return true; }
  // Tail from bn3 in eval mode: BN is a per-channel affine map there, and a monotone map
  // commutes with max-pooling (a max becomes a min for a negative scale). So the max- and
  // min-pooled conv3 outputs (3x3 instead of 7x7) are cached, and each model applies bn3
  // after pooling. conv4 runs as Winograd GEMMs (kernels/conv3x3_small.h), and images whose
  // two best logits are close are redone with direct GEMMs: predictions equal the full
  // forward pass up to float rounding (tested).
  // Only for 24-31 px inputs, whose conv4 map is 3x3 (28 px: 28 -> 14 -> 7 -> 3).
  bool prepare_fast_tail(int64_t start, const std::vector<std::string>& selected) override {
    return start == 5 && conv4_map_ == 3;
  }
  torch::Tensor fast_tail_cache(int64_t start, const torch::Tensor& h) override;
  torch::Tensor fast_tail_forward(int64_t start, const torch::Tensor& cached) override;

 private:
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr}, conv4{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr}, bn4{nullptr};
  torch::nn::Linear fc{nullptr};
  // bn4, ReLU, average pool and fc on position-major conv4 outputs (9, B, 256).
  torch::Tensor tail_after_conv4(torch::Tensor y);
  int64_t conv4_map_ = 0;          // side of conv4's input map
  torch::Tensor taps_, winograd_;  // conv4's weight laid out for the direct and Winograd forms
  int64_t conv4_version_ = -1;     // conv4->weight's version counter when they were made
};

}  // namespace pdiff
