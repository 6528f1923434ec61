// The latent denoiser (SPEC 1.4): a 1-D conv U-Net over the latent seen as (B, 1, L) that
// predicts the noise. Encoder blocks halve the length after the first, decoder blocks upsample
// and take the matching encoder output as a skip connection. Every block's input gets a
// projection of the timestep embedding (sinusoidal, per sample, through a small MLP).
// The latent comes from a Linear layer: its entries have no order and no neighbours, and a
// convolution alone treats every position alike (it sees only how far the padding is). With
// `position` > 0, that many learned channels, one code per latent entry, go in beside it, so
// the denoiser can model each entry's own distribution.
#pragma once
#include <torch/torch.h>

#include <vector>

namespace pdiff {

struct DenoiserConfig {
  int64_t length = 128;                    // latent size
  std::vector<int64_t> channels = {64, 128, 256};
  int64_t kernel = 7;
  int64_t time_dim = 128;
  int64_t position = 0;                    // learned position channels beside the latent
  // The latent length must be divisible by 2^(blocks-1).
  int64_t length_multiple() const { return int64_t{1} << (channels.size() - 1); }
};

class DenoiserImpl : public torch::nn::Module {
 public:
  explicit DenoiserImpl(const DenoiserConfig& cfg);
  // x: (B, L) noisy latents; t: (B) int64 timesteps. Returns predicted noise (B, L).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t);
  const DenoiserConfig& config() const { return cfg_; }
  // Multiply-adds x 2 of one forward pass for one latent.
  double flops_per_sample() const;

 private:
  torch::Tensor block(int64_t i, torch::Tensor h, const torch::Tensor& temb, bool encoder);
  DenoiserConfig cfg_;
  torch::nn::Linear time_fc1_{nullptr}, time_fc2_{nullptr};
  torch::nn::ModuleList enc_convs_, enc_norms_, enc_time_, dec_convs_, dec_norms_, dec_time_;
  torch::nn::Conv1d out_conv_{nullptr};
  torch::Tensor position_;                 // (1, position, L); undefined when position == 0
};
TORCH_MODULE(Denoiser);

// Sinusoidal embedding of integer timesteps: (B) -> (B, dim).
torch::Tensor timestep_embedding(const torch::Tensor& t, int64_t dim);

}  // namespace pdiff
