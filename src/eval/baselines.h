// Baseline groups the generated models are compared with (Zeng et al. 2025, SPEC section 3):
// noise-added originals, averages of random originals, an independent per-parameter Gaussian
// fit, and the weight-average ensemble. Every draw comes from the given generator.
#pragma once
#include <torch/torch.h>

#include "gen/standardizer.h"

namespace pdiff {

// n originals picked at random, plus Gaussian noise of std sigma in standardised space.
torch::Tensor noise_standardised(const torch::Tensor& originals, const Standardizer& s, double sigma,
                                 int64_t n, torch::Generator& gen);
// n originals picked at random, plus Gaussian noise of std sigma in raw parameter units.
torch::Tensor noise_raw(const torch::Tensor& originals, double sigma, int64_t n, torch::Generator& gen);
// n models, each the mean of `k` distinct random originals.
torch::Tensor average_of_random(const torch::Tensor& originals, int64_t k, int64_t n, torch::Generator& gen);
// n draws from independent per-parameter Gaussians fitted to the originals.
torch::Tensor gaussian_fit(const torch::Tensor& originals, int64_t n, torch::Generator& gen);
// The mean of all originals (1, D).
torch::Tensor weight_average(const torch::Tensor& originals);

}  // namespace pdiff
