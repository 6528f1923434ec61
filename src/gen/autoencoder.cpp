#include "gen/autoencoder.h"

#include <numeric>

#include "core/error.h"

namespace pdiff {

// Norms run in fp32 under bf16 autocast (inputs cast here: LibTorch 1.13's CPU autocast passes
// bfloat16 to GroupNorm with fp32 weights, which its kernel refuses); a no-op in fp32.
torch::nn::GroupNorm group_norm(int64_t c) {
  int64_t g = std::gcd(c, int64_t{32});
  return torch::nn::GroupNorm(torch::nn::GroupNormOptions(g, c));
}

AutoencoderImpl::AutoencoderImpl(const AutoencoderConfig& cfg)
    : ParamAutoencoderImpl(cfg.input_noise, cfg.latent_noise), cfg_(cfg) {
  const auto& ch = cfg.channels;
  check(!ch.empty(), "ae.channels must list at least one width");
  check(cfg.kernel % 2 == 1, "ae.kernel must be odd, got " + std::to_string(cfg.kernel));
  check(cfg.dim % cfg.pad_multiple() == 0, "internal: autoencoder input not padded to a multiple of 2^blocks");
  const int64_t n = static_cast<int64_t>(ch.size()), pad = cfg.kernel / 2;
  bottleneck_len_ = cfg.dim >> n;
  int64_t prev = 1;
  for (int64_t c : ch) {
    enc_convs_->push_back(torch::nn::Conv1d(torch::nn::Conv1dOptions(prev, c, cfg.kernel).stride(2).padding(pad)));
    enc_norms_->push_back(group_norm(c));
    prev = c;
  }
  enc_fc_ = torch::nn::Linear(ch.back() * bottleneck_len_, cfg.latent);
  dec_fc_ = torch::nn::Linear(cfg.latent, ch.back() * bottleneck_len_);
  for (int64_t j = 0; j < n; ++j) {
    int64_t c = j < n - 1 ? ch[n - 2 - j] : ch[0];  // mirror of the encoder widths
    dec_convs_->push_back(torch::nn::Conv1d(torch::nn::Conv1dOptions(prev, c, cfg.kernel).padding(pad)));
    dec_norms_->push_back(group_norm(c));
    prev = c;
  }
  out_conv_ = torch::nn::Conv1d(torch::nn::Conv1dOptions(prev, 1, cfg.kernel).padding(pad));
  register_module("enc_convs", enc_convs_);
  register_module("enc_norms", enc_norms_);
  register_module("enc_fc", enc_fc_);
  register_module("dec_fc", dec_fc_);
  register_module("dec_convs", dec_convs_);
  register_module("dec_norms", dec_norms_);
  register_module("out_conv", out_conv_);
}

torch::Tensor AutoencoderImpl::encode(const torch::Tensor& x) {
  auto h = x.unsqueeze(1);                                       // (B, 1, dim)
  for (size_t i = 0; i < enc_convs_->size(); ++i) {
    h = enc_convs_[i]->as<torch::nn::Conv1d>()->forward(h);      // (B, c_i, dim / 2^(i+1))
    h = torch::leaky_relu(enc_norms_[i]->as<torch::nn::GroupNorm>()->forward(h.to(torch::kFloat32)), 0.2);
  }
  return enc_fc_(h.flatten(1));                                  // (B, latent)
}

torch::Tensor AutoencoderImpl::decode(const torch::Tensor& z) {
  auto h = dec_fc_(z).view({z.size(0), cfg_.channels.back(), bottleneck_len_});
  for (size_t j = 0; j < dec_convs_->size(); ++j) {
    h = h.repeat_interleave(2, /*dim=*/2);                       // nearest upsampling x2
    h = dec_convs_[j]->as<torch::nn::Conv1d>()->forward(h);
    h = torch::elu(dec_norms_[j]->as<torch::nn::GroupNorm>()->forward(h.to(torch::kFloat32)));
  }
  return out_conv_(h).squeeze(1);                                // (B, dim)
}

double AutoencoderImpl::flops_per_sample() const {
  const auto& ch = cfg_.channels;
  const int64_t n = static_cast<int64_t>(ch.size()), k = cfg_.kernel;
  double macs = 0;
  int64_t prev = 1, len = cfg_.dim;
  for (int64_t c : ch) macs += double(len /= 2) * c * prev * k, prev = c;      // encoder convs
  macs += 2.0 * ch.back() * bottleneck_len_ * cfg_.latent;                    // two Linears
  for (int64_t j = 0; j < n; ++j) {
    int64_t c = j < n - 1 ? ch[n - 2 - j] : ch[0];
    macs += double(len *= 2) * c * prev * k, prev = c;                         // decoder convs
  }
  macs += double(len) * prev * k;                                             // output conv
  return 2 * macs;
}

torch::Tensor ParamAutoencoderImpl::forward_noisy(const torch::Tensor& x, torch::Generator& gen, int64_t batch,
                                                  int64_t first) {
  if (batch < 0) batch = x.size(0);
  // Noise drawn on the CPU (its generator's device), so every device trains on the same draws.
  auto noise = [&](const torch::Tensor& like) {
    std::vector<int64_t> sizes = like.sizes().vec();
    sizes[0] = batch;
    torch::Tensor all = torch::randn(sizes, gen, like.options().device(torch::kCPU));
    return (like.size(0) == batch ? all : all.narrow(0, first, like.size(0))).to(like.device());
  };
  auto noisy = x + input_noise_ * noise(x);
  auto z = encode(noisy);
  z = z + latent_noise_ * noise(z);
  return decode(z);
}

}  // namespace pdiff
