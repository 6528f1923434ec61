// DDPM noise schedule and samplers (SPEC 1.4). A schedule is data; samplers are free functions
// that take a denoise(x, t) callback and never see the network. Each sample draws its noise
// from its own generator, so a sample does not depend on the batch it was drawn in.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <vector>

namespace pdiff {

struct NoiseSchedule {
  int64_t timesteps = 1000;
  torch::Tensor betas, alphas, alpha_bar;  // (T) float64
  static NoiseSchedule linear(int64_t timesteps, double beta_start, double beta_end);
};

// Predicted noise for noisy latents x (B, L) at integer timesteps t (B).
using DenoiseFn = std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& t)>;

// x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps; loss = mean((denoise(x_t, t) - eps)^2).
torch::Tensor ddpm_loss(const NoiseSchedule& s, const DenoiseFn& denoise, const torch::Tensor& x0,
                        const torch::Tensor& t, const torch::Tensor& eps);

// One generator per sample; noise for the batch is stacked from them.
torch::Tensor per_sample_noise(std::vector<torch::Generator>& gens, int64_t length);

// Ancestral DDPM over all T steps with the posterior variance.
// The denoiser seen through a clamp of its clean-latent estimate x0 = (x - sqrt(1 - ab) eps) /
// sqrt(ab) to [lo, hi] per entry: returns the noise that gives the clamped x0. Both samplers
// take it unchanged. At high noise eps-prediction errors are multiplied by 1 / sqrt(ab) (150
// at t = T), which a small denoiser trained for few steps cannot keep small.
DenoiseFn clip_clean_estimate(const NoiseSchedule& s, DenoiseFn denoise, torch::Tensor lo, torch::Tensor hi);

torch::Tensor sample_ddpm(const NoiseSchedule& s, const DenoiseFn& denoise,
                          std::vector<torch::Generator>& gens, int64_t length);
// DDIM over `steps` evenly spaced timesteps; eta = 0 is deterministic given the start noise.
torch::Tensor sample_ddim(const NoiseSchedule& s, const DenoiseFn& denoise,
                          std::vector<torch::Generator>& gens, int64_t length, int64_t steps, double eta);

}  // namespace pdiff
