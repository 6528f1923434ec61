// The parameter autoencoder of p-diff (SPEC 1.3): a 1-D conv encoder over the standardised
// vector seen as (B, 1, D), flatten, Linear to the latent; a mirrored decoder (Linear, then
// nearest upsampling + Conv1d blocks, which LibTorch 1.13 runs far faster on CPU than
// ConvTranspose1d), final Conv1d to one channel. GroupNorm keeps every sample independent of
// the rest of its batch. Noise on the input and on the latent is added in training only.
#pragma once
#include <torch/torch.h>

#include <memory>
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

// What the pipeline needs of a parameter autoencoder (this conv one, or the token one of
// token_autoencoder.h): vectors (B, dim) to latents (B, latent_size()) and back.
class ParamAutoencoderImpl : public torch::nn::Module {
 public:
  ParamAutoencoderImpl(double input_noise, double latent_noise)
      : input_noise_(input_noise), latent_noise_(latent_noise) {}
  virtual torch::Tensor encode(const torch::Tensor& x) = 0;
  virtual torch::Tensor decode(const torch::Tensor& z) = 0;
  virtual int64_t latent_size() const = 0;
  // Multiply-adds x 2 of one forward pass (encode + decode) for one vector.
  virtual double flops_per_sample() const = 0;
  // Training forward: noise on input and latent drawn from gen; returns the reconstruction.
  // x may be rows [first, first + x.size(0)) of a batch of `batch` rows (data-parallel
  // training): the noise is drawn for the whole batch and those rows taken, so that any split
  // of the batch trains on the same draws. batch < 0: x is the whole batch.
  torch::Tensor forward_noisy(const torch::Tensor& x, torch::Generator& gen, int64_t batch = -1, int64_t first = 0);

 private:
  double input_noise_, latent_noise_;
};
using ParamAutoencoder = std::shared_ptr<ParamAutoencoderImpl>;

class AutoencoderImpl : public ParamAutoencoderImpl {
 public:
  explicit AutoencoderImpl(const AutoencoderConfig& cfg);
  torch::Tensor encode(const torch::Tensor& x) override;   // (B, dim) -> (B, latent)
  torch::Tensor decode(const torch::Tensor& z) override;   // (B, latent) -> (B, dim)
  int64_t latent_size() const override { return cfg_.latent; }
  const AutoencoderConfig& config() const { return cfg_; }
  double flops_per_sample() const override;

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
