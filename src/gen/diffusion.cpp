#include "gen/diffusion.h"

#include <cmath>

#include "core/error.h"

namespace pdiff {

NoiseSchedule NoiseSchedule::linear(int64_t timesteps, double beta_start, double beta_end) {
  check(beta_start > 0 && beta_end < 1 && beta_start <= beta_end,
        "ldm.beta_start / ldm.beta_end must satisfy 0 < start <= end < 1");
  NoiseSchedule s;
  s.timesteps = timesteps;
  s.betas = torch::linspace(beta_start, beta_end, timesteps, torch::kFloat64);
  s.alphas = 1 - s.betas;
  s.alpha_bar = torch::cumprod(s.alphas, 0);
  return s;
}

torch::Tensor ddpm_loss(const NoiseSchedule& s, const DenoiseFn& denoise, const torch::Tensor& x0,
                        const torch::Tensor& t, const torch::Tensor& eps) {
  auto ab = s.alpha_bar.to(t.device()).index_select(0, t).to(torch::kFloat32).unsqueeze(1);  // (B, 1)
  auto xt = ab.sqrt() * x0 + (1 - ab).sqrt() * eps;
  return torch::mse_loss(denoise(xt, t), eps);
}

DenoiseFn clip_clean_estimate(const NoiseSchedule& s, DenoiseFn denoise, torch::Tensor lo, torch::Tensor hi) {
  torch::Tensor ab = s.alpha_bar.to(torch::kFloat32);
  return [=](const torch::Tensor& x, const torch::Tensor& t) {
    auto eps = denoise(x, t);
    auto a = ab.to(x.device()).index_select(0, t).unsqueeze(1);  // (B, 1)
    auto x0 = ((x - (1 - a).sqrt() * eps) / a.sqrt()).clamp(lo.to(x.device()), hi.to(x.device()));
    return (x - a.sqrt() * x0) / (1 - a).sqrt();
  };
}

torch::Tensor per_sample_noise(std::vector<torch::Generator>& gens, int64_t length) {
  std::vector<torch::Tensor> rows;
  rows.reserve(gens.size());
  for (auto& g : gens) rows.push_back(torch::randn({length}, g, torch::kFloat32));
  return torch::stack(rows);
}

namespace {
torch::Tensor full_t(int64_t b, int64_t t) { return torch::full({b}, t, torch::kInt64); }
}  // namespace

torch::Tensor sample_ddpm(const NoiseSchedule& s, const DenoiseFn& denoise,
                          std::vector<torch::Generator>& gens, int64_t length) {
  torch::NoGradGuard ng;
  const int64_t b = static_cast<int64_t>(gens.size());
  auto x = per_sample_noise(gens, length);
  auto beta = s.betas.accessor<double, 1>();
  auto alpha = s.alphas.accessor<double, 1>();
  auto ab = s.alpha_bar.accessor<double, 1>();
  for (int64_t t = s.timesteps - 1; t >= 0; --t) {
    auto eps = denoise(x, full_t(b, t));
    x = (x - (beta[t] / std::sqrt(1 - ab[t])) * eps) / std::sqrt(alpha[t]);
    if (t > 0) {
      double var = beta[t] * (1 - ab[t - 1]) / (1 - ab[t]);  // posterior variance
      x = x + std::sqrt(var) * per_sample_noise(gens, length);
    }
  }
  return x;
}

torch::Tensor sample_ddim(const NoiseSchedule& s, const DenoiseFn& denoise,
                          std::vector<torch::Generator>& gens, int64_t length, int64_t steps, double eta) {
  check(steps >= 1 && steps <= s.timesteps, "generate.steps must be between 1 and ldm.timesteps");
  torch::NoGradGuard ng;
  const int64_t b = static_cast<int64_t>(gens.size());
  auto ab = s.alpha_bar.accessor<double, 1>();
  std::vector<int64_t> ts;  // descending, evenly spaced, ending at 0
  for (int64_t i = steps - 1; i >= 0; --i) ts.push_back(i * s.timesteps / steps);
  auto x = per_sample_noise(gens, length);
  for (size_t k = 0; k < ts.size(); ++k) {
    const int64_t t = ts[k];
    const double a_t = ab[t], a_prev = k + 1 < ts.size() ? ab[ts[k + 1]] : 1.0;
    auto eps = denoise(x, full_t(b, t));
    auto x0 = (x - std::sqrt(1 - a_t) * eps) / std::sqrt(a_t);
    double sigma = eta * std::sqrt((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev));
    x = std::sqrt(a_prev) * x0 + std::sqrt(std::max(0.0, 1 - a_prev - sigma * sigma)) * eps;
    if (sigma > 0) x = x + sigma * per_sample_noise(gens, length);
  }
  return x;
}

}  // namespace pdiff
