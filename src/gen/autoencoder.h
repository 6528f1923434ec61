// The parameter autoencoder of p-diff (SPEC 1.3): a 1-D conv encoder over the standardised
// vector seen as (B, 1, D), flatten, Linear to the latent; a mirrored decoder (Linear, then
// nearest upsampling + Conv1d blocks, which LibTorch 1.13 runs far faster on CPU than
// ConvTranspose1d), final Conv1d to one channel. GroupNorm keeps every sample independent of
// the rest of its batch. Noise on the input and on the latent is added in training only.
#pragma once
#include <torch/torch.h>

#include <vector>

namespace pdiff {

struct AutoencoderConfig {
  int64_t dim = 768;                                 // padded input length
  std::vector<int64_t> channels = {64, 128, 256, 256, 32};
  int64_t kernel = 7;
  int64_t latent = 128;
  double input_noise = 0.001;
  double latent_noise = 0.1;
  // The padded length must be divisible by 2^blocks.
  int64_t pad_multiple() const { return int64_t{1} << channels.size(); }
};

class AutoencoderImpl : public torch::nn::Module {
 public:
  explicit AutoencoderImpl(const AutoencoderConfig& cfg);
  torch::Tensor encode(const torch::Tensor& x);   // (B, dim) -> (B, latent)
  torch::Tensor decode(const torch::Tensor& z);   // (B, latent) -> (B, dim)
  // Training forward: noise on input and latent drawn from gen; returns the reconstruction.
  torch::Tensor forward_noisy(const torch::Tensor& x, torch::Generator& gen);
  const AutoencoderConfig& config() const { return cfg_; }
  // Multiply-adds x 2 of one forward pass (encode + decode) for one vector.
  double flops_per_sample() const;

 private:
  AutoencoderConfig cfg_;
  int64_t bottleneck_len_;
  torch::nn::ModuleList enc_convs_, enc_norms_, dec_convs_, dec_norms_;
  torch::nn::Linear enc_fc_{nullptr}, dec_fc_{nullptr};
  torch::nn::Conv1d out_conv_{nullptr};
};
TORCH_MODULE(Autoencoder);

// GroupNorm with up to 32 groups that divide c (shared by the autoencoder and the denoiser).
torch::nn::GroupNorm group_norm(int64_t c);

}  // namespace pdiff
