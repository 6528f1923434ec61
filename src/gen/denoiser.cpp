#include "gen/denoiser.h"

#include <cmath>

#include "core/error.h"
#include "gen/autoencoder.h"

namespace pdiff {

torch::Tensor timestep_embedding(const torch::Tensor& t, int64_t dim) {
  const int64_t half = dim / 2;
  auto freqs = torch::exp(-std::log(10000.0) * torch::arange(half, torch::kFloat32) / half);
  auto args = t.to(torch::kFloat32).unsqueeze(1) * freqs.unsqueeze(0);  // (B, half)
  return torch::cat({torch::sin(args), torch::cos(args)}, 1);            // (B, dim)
}

DenoiserImpl::DenoiserImpl(const DenoiserConfig& cfg) : cfg_(cfg) {
  const auto& ch = cfg.channels;
  check(!ch.empty(), "ldm.channels must list at least one width");
  check(cfg.kernel % 2 == 1, "ldm.kernel must be odd, got " + std::to_string(cfg.kernel));
  check(cfg.length % cfg.length_multiple() == 0,
        "the latent length " + std::to_string(cfg.length) + " (ae.latent, or ldm.subspace) must be divisible by " +
            std::to_string(cfg.length_multiple()) + " for " + std::to_string(ch.size()) + " denoiser blocks");
  const int64_t n = static_cast<int64_t>(ch.size()), pad = cfg.kernel / 2, td = cfg.time_dim;
  time_fc1_ = register_module("time_fc1", torch::nn::Linear(td, 2 * td));
  time_fc2_ = register_module("time_fc2", torch::nn::Linear(2 * td, 2 * td));
  check(cfg.position >= 0, "ldm.position must be >= 0");
  int64_t prev = 1 + cfg.position;
  for (int64_t i = 0; i < n; ++i) {
    auto opts = torch::nn::Conv1dOptions(prev, ch[i], cfg.kernel).padding(pad).stride(i == 0 ? 1 : 2);
    enc_time_->push_back(torch::nn::Linear(2 * td, prev));
    enc_convs_->push_back(torch::nn::Conv1d(opts));
    enc_norms_->push_back(group_norm(ch[i]));
    prev = ch[i];
  }
  for (int64_t i = n - 2; i >= 0; --i) {  // decoder block j restores encoder level i
    int64_t in = prev + ch[i];
    dec_time_->push_back(torch::nn::Linear(2 * td, in));
    dec_convs_->push_back(torch::nn::Conv1d(torch::nn::Conv1dOptions(in, ch[i], cfg.kernel).padding(pad)));
    dec_norms_->push_back(group_norm(ch[i]));
    prev = ch[i];
  }
  out_conv_ = torch::nn::Conv1d(torch::nn::Conv1dOptions(prev, 1, cfg.kernel).padding(pad));
  register_module("enc_time", enc_time_);
  register_module("enc_convs", enc_convs_);
  register_module("enc_norms", enc_norms_);
  register_module("dec_time", dec_time_);
  register_module("dec_convs", dec_convs_);
  register_module("dec_norms", dec_norms_);
  register_module("out_conv", out_conv_);
  // Drawn last: without position channels the other weights are drawn exactly as before.
  if (cfg.position > 0) position_ = register_parameter("position", torch::randn({1, cfg.position, cfg.length}));
}

double DenoiserImpl::flops_per_sample() const {
  const auto& ch = cfg_.channels;
  const int64_t n = static_cast<int64_t>(ch.size()), k = cfg_.kernel, td = cfg_.time_dim;
  double macs = double(td) * 2 * td + 4.0 * td * td;  // time MLP
  int64_t prev = 1 + cfg_.position;
  for (int64_t i = 0; i < n; ++i) {
    macs += double(cfg_.length >> i) * ch[i] * prev * k + 2.0 * td * prev;
    prev = ch[i];
  }
  for (int64_t i = n - 2; i >= 0; --i) {
    macs += double(cfg_.length >> i) * ch[i] * (prev + ch[i]) * k + 2.0 * td * (prev + ch[i]);
    prev = ch[i];
  }
  macs += double(cfg_.length) * prev * k;
  return 2 * macs;
}

torch::Tensor DenoiserImpl::block(int64_t i, torch::Tensor h, const torch::Tensor& temb, bool encoder) {
  auto& time = encoder ? enc_time_ : dec_time_;
  auto& conv = encoder ? enc_convs_ : dec_convs_;
  auto& norm = encoder ? enc_norms_ : dec_norms_;
  h = h + time[i]->as<torch::nn::Linear>()->forward(temb).unsqueeze(2);  // (B, C_in, len)
  h = conv[i]->as<torch::nn::Conv1d>()->forward(h);
  return torch::elu(norm[i]->as<torch::nn::GroupNorm>()->forward(h.to(torch::kFloat32)));  // fp32: autoencoder.cpp
}

torch::Tensor DenoiserImpl::forward(const torch::Tensor& x, const torch::Tensor& t) {
  auto temb = time_fc2_(torch::silu(time_fc1_(timestep_embedding(t, cfg_.time_dim))));  // (B, 2*td)
  auto h = x.unsqueeze(1);                                                          // (B, 1, L)
  if (position_.defined()) h = torch::cat({h, position_.expand({x.size(0), -1, -1})}, 1);  // (B, 1 + P, L)
  std::vector<torch::Tensor> skips;
  for (size_t i = 0; i < enc_convs_->size(); ++i) {
    h = block(i, h, temb, true);                      // (B, ch[i], L / 2^max(i,0))
    skips.push_back(h);
  }
  for (size_t j = 0; j < dec_convs_->size(); ++j) {
    const auto& skip = skips[skips.size() - 2 - j];
    h = h.repeat_interleave(skip.size(2) / h.size(2), 2);  // upsample to the skip's length
    h = block(j, torch::cat({h, skip}, 1), temb, false);   // (B, ch[i], len of level i)
  }
  return out_conv_(h).squeeze(1);                          // (B, L)
}

}  // namespace pdiff
