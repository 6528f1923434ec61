// ConvNet-4 of the benchmark task (SPEC section 5): four Conv3x3(no bias)-BN-ReLU blocks,
// channels 32, 64, 128, 256, MaxPool2d(2) after blocks 1-3, global average pool, Linear.
#pragma once
#include "models/classifier.h"

namespace pdiff {

class ConvNet4Impl : public ClassifierImpl {
 public:
  explicit ConvNet4Impl(const ClassifierSpec& spec);
  // Stages: conv1, bn1+relu+pool, conv2, bn2+..., conv3, bn3+..., conv4, bn4+relu+gap, fc.
  int64_t num_stages() const override { return 9; }
  torch::Tensor forward_stage(int64_t i, torch::Tensor x) override;
  std::vector<std::string> stage_params(int64_t i) const override;
  bool channels_last() const override { return true; }

 private:
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr}, conv4{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr}, bn4{nullptr};
  torch::nn::Linear fc{nullptr};
};

}  // namespace pdiff
