#include "gen/diffusion.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/config.h"
#include "gen/denoiser.h"
#include "gen/model_files.h"
#include "zoo/batch_schedule.h"
#include "test_util.h"
#include "run/stage_options.h"

namespace pdiff::diffusion_test {
namespace {

TEST(NoiseSchedule, LinearBetasAndCumulativeProduct) {
  auto s = NoiseSchedule::linear(1000, 1e-4, 2e-2);
  EXPECT_NEAR(s.betas[0].item<double>(), 1e-4, 1e-12);
  EXPECT_NEAR(s.betas[999].item<double>(), 2e-2, 1e-12);
  double prod = 1;
  for (int t = 0; t < 10; ++t) prod *= 1 - s.betas[t].item<double>();
  EXPECT_NEAR(s.alpha_bar[9].item<double>(), prod, 1e-12);
}

TEST(DdpmLoss, MatchesHandComputedValue) {
  auto s = NoiseSchedule::linear(10, 0.1, 0.5);
  // A "denoiser" that returns 2 * x_t, so the loss has a closed form.
  DenoiseFn twice = [](const torch::Tensor& x, const torch::Tensor&) { return 2 * x; };
  auto x0 = torch::tensor({{1.0f, -2.0f}});
  auto eps = torch::tensor({{0.5f, 0.25f}});
  auto t = torch::tensor({3}, torch::kInt64);
  double ab = (1 - 0.1) * (1 - (0.1 + 0.4 / 9)) * (1 - (0.1 + 0.8 / 9)) * (1 - (0.1 + 1.2 / 9));
  double expected = 0;
  const double xs[] = {1.0, -2.0}, es[] = {0.5, 0.25};
  for (int i = 0; i < 2; ++i) {
    double xt = std::sqrt(ab) * xs[i] + std::sqrt(1 - ab) * es[i];
    expected += std::pow(2 * xt - es[i], 2) / 2;
  }
  EXPECT_NEAR(ddpm_loss(s, twice, x0, t, eps).item<double>(), expected, 1e-5);
}

TEST(Denoiser, PerSampleTimestepsAndShapes) {
  DenoiserConfig c;
  c.length = 32;
  c.channels = {8, 16};
  c.kernel = 3;
  Denoiser net(c);
  net->eval();
  torch::NoGradGuard ng;
  auto x = torch::randn({4, 32});
  auto t = torch::tensor({0, 10, 500, 999}, torch::kInt64);
  auto out = net->forward(x, t);
  EXPECT_EQ(out.sizes(), x.sizes());
  // Each sample uses its own timestep (the official v1 code used sample 0's for all).
  auto single = net->forward(x.slice(0, 2, 3), t.slice(0, 2, 3));
  EXPECT_LT(test::max_relative_difference(out.slice(0, 2, 3), single), test::kSummationOrderTolerance);
  auto other_t = net->forward(x.slice(0, 2, 3), torch::tensor({0}, torch::kInt64));
  EXPECT_FALSE(torch::allclose(single, other_t, 1e-4, 1e-5));
}

// Fits a denoiser to return one fixed vector whatever its input, and returns the remaining error.
double fit_fixed_target(int64_t position) {
  torch::manual_seed(3);
  DenoiserConfig c;
  c.length = 64;
  c.channels = {16, 32};
  c.kernel = 5;
  c.position = position;
  Denoiser net(c);
  auto target = torch::randn({1, 64}).expand({8, 64});  // a different value for every entry
  auto x = torch::zeros({8, 64});
  auto t = torch::full({8}, 100, torch::kInt64);
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-2));
  double loss = 0;
  for (int step = 0; step < 300; ++step) {
    opt.zero_grad();
    auto l = torch::mse_loss(net->forward(x, t), target);
    l.backward();
    opt.step();
    loss = l.item<double>();
  }
  return loss;
}

// The latent's entries come from a Linear layer and each has its own distribution. Without
// position channels a convolution computes the same function at every entry (only the padding
// tells the ends apart), so it cannot return a different value per entry for a uniform input;
// with them it can.
TEST(Denoiser, PositionChannelsTellTheLatentEntriesApart) {
  const double plain = fit_fixed_target(0), with_position = fit_fixed_target(8);
  EXPECT_GT(plain, 0.3) << "a plain convolution fitted per-entry values: the test lost its point";
  EXPECT_LT(with_position, 0.02);
  // No position channels: the same weights as before the option existed (drawn first).
  DenoiserConfig c;
  c.length = 32;
  c.channels = {8, 16};
  torch::manual_seed(1);
  Denoiser a(c);
  c.position = 4;
  torch::manual_seed(1);
  Denoiser b(c);
  EXPECT_EQ(a->parameters().size() + 1, b->parameters().size());
  EXPECT_TRUE(torch::equal(a->named_parameters()["time_fc1.weight"], b->named_parameters()["time_fc1.weight"]));
}

// ldm.subspace=auto: 16 directions, fewer for a small zoo or latent, a multiple of the
// denoiser's length multiple (2^(blocks - 1)), and the whole latent when none is left.
TEST(Denoiser, AutoSubspaceFitsTheZooTheLatentAndTheDenoiser) {
  auto subspace = [](const std::vector<std::string>& keys, int64_t k, int64_t latent = 128) {
    return diffusion_subspace(train_options(Config::load("", keys)).ldm, k, latent);
  };
  EXPECT_EQ(subspace({}, 200), 16);                               // the benchmark task
  EXPECT_EQ(subspace({}, 11), 8);                                 // 10 directions, 3 blocks: a multiple of 4
  EXPECT_EQ(subspace({"ldm.channels=8,16"}, 6), 4);               // 5 directions, 2 blocks
  EXPECT_EQ(subspace({"ldm.channels=8,16"}, 200, 8), 8);          // a latent of 8
  EXPECT_EQ(subspace({}, 4), 0);                                  // 3 directions < 4: the whole latent
  EXPECT_EQ(subspace({"ldm.subspace=0"}, 200), 0);
  EXPECT_EQ(subspace({"ldm.subspace=32"}, 200), 32);
  EXPECT_EQ(denoiser_config(train_options(Config::load("", {})).ldm, 200, 128).length, 16);
  EXPECT_EQ(denoiser_config(train_options(Config::load("", {})).ldm, 4, 128).length, 128);  // the whole latent
  EXPECT_EQ(denoiser_config(train_options(Config::load("", {})).ldm, 200, 128).position, 16);
}

std::vector<torch::Generator> gens(int64_t first, int64_t n) {
  std::vector<torch::Generator> g;
  for (int64_t i = 0; i < n; ++i) g.push_back(make_generator(5, 300, first + i));
  return g;
}

TEST(Samplers, ReproducibleAndIndependentOfTheBatch) {
  DenoiserConfig c;
  c.length = 16;
  c.channels = {8, 16};
  c.kernel = 3;
  Denoiser net(c);
  net->eval();
  DenoiseFn fn = [&](const torch::Tensor& x, const torch::Tensor& t) { return net->forward(x, t); };
  auto s = NoiseSchedule::linear(100, 1e-4, 2e-2);
  for (bool ddim : {true, false}) {
    auto g1 = gens(0, 10), g2 = gens(0, 10), g3 = gens(3, 4);
    auto run = [&](std::vector<torch::Generator>& g) {
      return ddim ? sample_ddim(s, fn, g, 16, 20, 0.5) : sample_ddpm(s, fn, g, 16);
    };
    auto a = run(g1), b = run(g2), part = run(g3);
    EXPECT_TRUE(torch::equal(a, b)) << (ddim ? "ddim" : "ddpm") << ": same seed, same samples";
    EXPECT_LT(test::max_relative_difference(a.slice(0, 3, 7), part), test::kSummationOrderTolerance)
        << "a sample does not depend on its batch";
    EXPECT_TRUE(torch::isfinite(a).all().item<bool>());
  }
}

// A denoiser that predicts no noise at all makes x0 = x / sqrt(ab): 150 times the start noise
// at t = T. Clamping the clean estimate keeps both samplers inside the given range, and
// leaves a denoiser whose estimates are inside it alone.
TEST(Samplers, ClippedCleanEstimateStaysInTheZoosRange) {
  auto s = NoiseSchedule::linear(1000, 1e-4, 2e-2);
  auto lo = torch::linspace(-1.0, -0.5, 8), hi = torch::linspace(0.5, 1.0, 8);
  DenoiseFn lazy = [](const torch::Tensor& x, const torch::Tensor&) { return torch::zeros_like(x); };
  DenoiseFn clipped = clip_clean_estimate(s, lazy, lo, hi);
  for (bool ddim : {true, false}) {
    auto g1 = gens(0, 6), g2 = gens(0, 6);
    auto run = [&](DenoiseFn fn, std::vector<torch::Generator>& g) {
      return ddim ? sample_ddim(s, fn, g, 8, 25, 0.0) : sample_ddpm(s, fn, g, 8);
    };
    auto wild = run(lazy, g1), tame = run(clipped, g2);
    EXPECT_GT(wild.abs().max().item<double>(), 10.0) << (ddim ? "ddim" : "ddpm") << ": the test lost its point";
    // Both samplers' last step returns the final clean estimate.
    const double slack = 1e-4;
    EXPECT_TRUE((tame >= lo - slack).all().item<bool>() && (tame <= hi + slack).all().item<bool>())
        << (ddim ? "ddim" : "ddpm") << "\n" << tame;
  }
  // Inside the range the clamp changes nothing.
  auto x0 = torch::zeros({3, 8});
  auto eps = torch::randn({3, 8});
  auto t = torch::tensor({10, 500, 990}, torch::kInt64);
  auto a = s.alpha_bar.index_select(0, t).to(torch::kFloat32).unsqueeze(1);
  auto xt = a.sqrt() * x0 + (1 - a).sqrt() * eps;
  DenoiseFn exact = [&](const torch::Tensor&, const torch::Tensor&) { return eps; };
  EXPECT_LT(test::max_relative_difference(clip_clean_estimate(s, exact, lo, hi)(xt, t), eps), 1e-3);
}

TEST(Samplers, DdimWithEtaZeroIsDeterministicGivenStartNoise) {
  // With a perfect denoiser for a point mass at x0, DDIM returns x0 exactly.
  auto s = NoiseSchedule::linear(1000, 1e-4, 2e-2);
  auto x0 = torch::full({1, 8}, 0.7f);
  DenoiseFn oracle = [&](const torch::Tensor& x, const torch::Tensor& t) {
    double ab = s.alpha_bar[t[0].item<int64_t>()].item<double>();
    return (x - std::sqrt(ab) * x0) / std::sqrt(1 - ab);
  };
  auto g = gens(0, 1);
  auto out = sample_ddim(s, oracle, g, 8, 50, 0.0);
  EXPECT_TRUE(torch::allclose(out, x0, 1e-4, 1e-4));
  auto g2 = gens(0, 1);
  auto out2 = sample_ddpm(s, oracle, g2, 8);
  EXPECT_TRUE(torch::allclose(out2, x0, 1e-3, 1e-3));
}

}  // namespace
}  // namespace pdiff::diffusion_test
