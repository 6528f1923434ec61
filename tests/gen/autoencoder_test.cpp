#include "gen/autoencoder.h"

#include <gtest/gtest.h>

#include "zoo/batch_schedule.h"
#include "test_util.h"

namespace pdiff {
namespace {

AutoencoderConfig small_config() {
  AutoencoderConfig c;
  c.dim = 256;
  c.channels = {8, 16, 16, 8};
  c.kernel = 5;
  c.latent = 32;
  return c;
}

TEST(Autoencoder, Shapes) {
  Autoencoder ae(small_config());
  auto x = torch::randn({6, 256});
  auto z = ae->encode(x);
  EXPECT_EQ(z.sizes(), (std::vector<int64_t>{6, 32}));
  EXPECT_EQ(ae->decode(z).sizes(), (std::vector<int64_t>{6, 256}));
  auto gen = make_generator(1);
  EXPECT_EQ(ae->forward_noisy(x, gen).sizes(), (std::vector<int64_t>{6, 256}));
  EXPECT_GT(ae->flops_per_sample(), 0);
}

TEST(Autoencoder, InferenceDoesNotDependOnTheBatch) {
  Autoencoder ae(small_config());
  ae->eval();
  torch::NoGradGuard ng;
  auto x = torch::randn({9, 256});
  auto all = ae->decode(ae->encode(x));
  auto one = ae->decode(ae->encode(x.slice(0, 4, 5)));
  EXPECT_LT(test::max_relative_difference(all.slice(0, 4, 5), one), test::kSummationOrderTolerance);
  auto again = ae->decode(ae->encode(x));
  EXPECT_TRUE(torch::equal(all, again));  // deterministic: no noise outside training
}

TEST(Autoencoder, NoiseOnlyInTraining) {
  auto cfg = small_config();
  cfg.input_noise = 0.5;
  cfg.latent_noise = 0.5;
  Autoencoder ae(cfg);
  auto x = torch::randn({3, 256});
  auto g1 = make_generator(7), g2 = make_generator(8), g3 = make_generator(7);
  auto a = ae->forward_noisy(x, g1), b = ae->forward_noisy(x, g2), c = ae->forward_noisy(x, g3);
  EXPECT_FALSE(torch::allclose(a, b));  // noise changes the output
  EXPECT_TRUE(torch::equal(a, c));      // the same generator seed gives the same noise
}

TEST(Autoencoder, LearnsToReconstruct) {
  torch::manual_seed(0);
  auto cfg = small_config();
  Autoencoder ae(cfg);
  auto x = torch::randn({16, 256});
  torch::optim::Adam opt(ae->parameters(), 3e-3);
  auto gen = make_generator(3);
  double first = 0, last = 0;
  for (int i = 0; i < 150; ++i) {
    auto loss = torch::mse_loss(ae->forward_noisy(x, gen), x);
    opt.zero_grad();
    loss.backward();
    opt.step();
    if (i == 0) first = loss.item<double>();
    last = loss.item<double>();
  }
  EXPECT_LT(last, 0.5 * first);
}

}  // namespace
}  // namespace pdiff
