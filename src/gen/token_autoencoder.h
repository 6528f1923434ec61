// The token autoencoder: the parameter autoencoder for large D (whole networks). The
// standardised vector is cut into tokens of `token` entries, tensor by tensor (a token never
// spans two tensors; a tensor's last token is zero-padded). Every token goes through the same
// small MLP, told which token it is by a learned embedding, to `token_latent` numbers; the
// decoder mirrors it. Weights are shared, so the cost of a vector grows linearly in D with a
// small constant (about 4 * hidden multiply-adds per entry), where the conv autoencoder's
// dense Linear to the latent holds ~64 * D weights. The latent is the tokens' codes side by
// side: (B, tokens * token_latent).
#pragma once
#include <torch/torch.h>

#include <vector>

#include "gen/autoencoder.h"

namespace pdiff {

struct TokenAutoencoderConfig {
  std::vector<int64_t> tensor_sizes;  // elements of each tensor of the layout, in order
  int64_t token = 256;                // entries per token
  int64_t hidden = 256;               // width of the per-token MLP
  int64_t token_latent = 8;           // latent numbers per token
  double input_noise = 0.001;
  double latent_noise = 0.1;
  int64_t dim() const;                // sum of tensor_sizes
  int64_t tokens() const;             // sum of ceil(size / token)
};

class TokenAutoencoderImpl : public ParamAutoencoderImpl {
 public:
  explicit TokenAutoencoderImpl(const TokenAutoencoderConfig& cfg);
  torch::Tensor encode(const torch::Tensor& x) override;   // (B, dim) -> (B, tokens * token_latent)
  torch::Tensor decode(const torch::Tensor& z) override;   // (B, tokens * token_latent) -> (B, dim)
  int64_t latent_size() const override { return tokens_ * cfg_.token_latent; }
  double flops_per_sample() const override;
  const TokenAutoencoderConfig& config() const { return cfg_; }

 private:
  TokenAutoencoderConfig cfg_;
  int64_t tokens_ = 0;
  // Derived from the config, so not saved: the entry of x in each token slot (dim: padding),
  // and each entry's slot.
  torch::Tensor slot_source_, entry_slot_;
  torch::nn::Linear enc_in_{nullptr}, enc_mid_{nullptr}, enc_out_{nullptr};
  torch::nn::Linear dec_in_{nullptr}, dec_mid_{nullptr}, dec_out_{nullptr};
  torch::nn::LayerNorm enc_norm1_{nullptr}, enc_norm2_{nullptr}, dec_norm1_{nullptr}, dec_norm2_{nullptr};
  torch::Tensor enc_embed_, dec_embed_;  // (tokens, hidden): which token this is
};
TORCH_MODULE(TokenAutoencoder);

}  // namespace pdiff
