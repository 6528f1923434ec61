#include "gen/token_autoencoder.h"

#include "core/error.h"

namespace pdiff {

int64_t TokenAutoencoderConfig::dim() const {
  int64_t d = 0;
  for (int64_t n : tensor_sizes) d += n;
  return d;
}

int64_t TokenAutoencoderConfig::tokens() const {
  int64_t t = 0;
  for (int64_t n : tensor_sizes) t += (n + token - 1) / token;
  return t;
}

TokenAutoencoderImpl::TokenAutoencoderImpl(const TokenAutoencoderConfig& cfg)
    : ParamAutoencoderImpl(cfg.input_noise, cfg.latent_noise), cfg_(cfg) {
  check(!cfg.tensor_sizes.empty(), "internal: a token autoencoder needs at least one tensor");
  check(cfg.token >= 1 && cfg.hidden >= 1 && cfg.token_latent >= 1,
        "ae.token_size, ae.token_hidden and ae.token_latent must be >= 1");
  tokens_ = cfg.tokens();
  const int64_t d = cfg.dim(), s = cfg.token, h = cfg.hidden;
  slot_source_ = torch::full({tokens_ * s}, d, torch::kInt64);
  entry_slot_ = torch::empty({d}, torch::kInt64);
  auto src = slot_source_.accessor<int64_t, 1>();
  auto slot = entry_slot_.accessor<int64_t, 1>();
  int64_t offset = 0, first_slot = 0;
  for (int64_t n : cfg.tensor_sizes) {
    for (int64_t i = 0; i < n; ++i) src[first_slot + i] = offset + i, slot[offset + i] = first_slot + i;
    offset += n;
    first_slot += (n + s - 1) / s * s;
  }
  enc_in_ = register_module("enc_in", torch::nn::Linear(s, h));
  enc_norm1_ = register_module("enc_norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({h})));
  enc_mid_ = register_module("enc_mid", torch::nn::Linear(h, h));
  enc_norm2_ = register_module("enc_norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({h})));
  enc_out_ = register_module("enc_out", torch::nn::Linear(h, cfg.token_latent));
  dec_in_ = register_module("dec_in", torch::nn::Linear(cfg.token_latent, h));
  dec_norm1_ = register_module("dec_norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({h})));
  dec_mid_ = register_module("dec_mid", torch::nn::Linear(h, h));
  dec_norm2_ = register_module("dec_norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({h})));
  dec_out_ = register_module("dec_out", torch::nn::Linear(h, s));
  // Embeddings as large as a Linear's output on unit inputs, so the token's identity counts.
  enc_embed_ = register_parameter("enc_embed", torch::randn({tokens_, h}) * 0.5);
  dec_embed_ = register_parameter("dec_embed", torch::randn({tokens_, h}) * 0.5);
}

torch::Tensor TokenAutoencoderImpl::encode(const torch::Tensor& x) {
  check(x.dim() == 2 && x.size(1) == cfg_.dim(),
        "token autoencoder: expected (B, " + std::to_string(cfg_.dim()) + ") vectors, got " + c10::str(x.sizes()));
  const int64_t b = x.size(0);
  auto padded = torch::constant_pad_nd(x, {0, 1}, 0.0);  // column dim is the padding's zero
  if (slot_source_.device() != x.device()) slot_source_ = slot_source_.to(x.device());  // moved once
  auto tok = padded.index_select(1, slot_source_).view({b, tokens_, cfg_.token});
  auto h = torch::leaky_relu(enc_norm1_((enc_in_(tok) + enc_embed_).to(torch::kFloat32)), 0.2);
  h = torch::leaky_relu(enc_norm2_(enc_mid_(h).to(torch::kFloat32)), 0.2);
  return enc_out_(h).flatten(1);  // (B, tokens * token_latent)
}

torch::Tensor TokenAutoencoderImpl::decode(const torch::Tensor& z) {
  check(z.dim() == 2 && z.size(1) == latent_size(),
        "token autoencoder: expected (B, " + std::to_string(latent_size()) + ") latents, got " + c10::str(z.sizes()));
  auto h = torch::elu(dec_norm1_((dec_in_(z.view({z.size(0), tokens_, cfg_.token_latent})) + dec_embed_).to(torch::kFloat32)));
  h = torch::elu(dec_norm2_(dec_mid_(h).to(torch::kFloat32)));
  auto slots = dec_out_(h).flatten(1);  // (B, tokens * token)
  if (entry_slot_.device() != z.device()) entry_slot_ = entry_slot_.to(z.device());
  return slots.index_select(1, entry_slot_);
}

double TokenAutoencoderImpl::flops_per_sample() const {
  const double s = cfg_.token, h = cfg_.hidden, l = cfg_.token_latent;
  return 2.0 * tokens_ * (2 * s * h + 2 * h * h + 2 * h * l);
}

}  // namespace pdiff
