#include "gen/token_autoencoder.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "gen/trainer.h"
#include "zoo/batch_schedule.h"
#include "test_util.h"

namespace pdiff::token_autoencoder_test {
namespace {

TokenAutoencoderConfig small_config() {
  TokenAutoencoderConfig c;
  c.tensor_sizes = {300, 5, 512};  // tokens: 2 + 1 + 2
  c.token = 256;
  c.hidden = 32;
  c.token_latent = 4;
  return c;
}

TEST(TokenAutoencoder, TokensFollowTheTensorsAndTheShapesFollowTheTokens) {
  TokenAutoencoder ae(small_config());
  EXPECT_EQ(small_config().tokens(), 5);
  EXPECT_EQ(ae->latent_size(), 5 * 4);
  auto x = torch::randn({3, 817});
  EXPECT_EQ(ae->encode(x).sizes(), (std::vector<int64_t>{3, 20}));
  EXPECT_EQ(ae->decode(ae->encode(x)).sizes(), (std::vector<int64_t>{3, 817}));
  EXPECT_THROW(ae->encode(torch::randn({3, 816})), Error);
}

// A token holds entries of one tensor only: changing the second tensor (entries 300..304)
// changes only its own token's code; and an output entry depends only on its token's code.
TEST(TokenAutoencoder, ATokenNeverSpansTwoTensors) {
  TokenAutoencoder ae(small_config());
  torch::NoGradGuard ng;
  auto x = torch::randn({1, 817});
  auto y = x.clone();
  y.slice(1, 300, 305).add_(1.0);
  auto dz = (ae->encode(y) - ae->encode(x)).view({5, 4}).abs().sum(1);
  EXPECT_EQ(dz[0].item<double>(), 0.0);
  EXPECT_EQ(dz[1].item<double>(), 0.0);
  EXPECT_GT(dz[2].item<double>(), 0.0);
  EXPECT_EQ(dz[3].item<double>(), 0.0);
  EXPECT_EQ(dz[4].item<double>(), 0.0);
  // The padding of a tensor's last token is zero, whatever sits next to it in the vector.
  auto z = torch::randn({1, 20});
  torch::NoGradGuard again;
  auto out = ae->decode(z);
  auto z2 = z.clone();
  z2.view({5, 4})[3].add_(1.0);  // the first token of the third tensor: entries 305..560
  auto d = (ae->decode(z2) - out).abs().squeeze(0);
  EXPECT_EQ(d.slice(0, 0, 305).sum().item<double>(), 0.0);
  EXPECT_GT(d.slice(0, 305, 561).min().item<double>(), 0.0);
  EXPECT_EQ(d.slice(0, 561, 817).sum().item<double>(), 0.0);
}

// Shared weights: only the token embeddings grow with D, and the cost grows linearly.
TEST(TokenAutoencoder, WeightsAndCostGrowLinearlyInD) {
  auto c1 = small_config(), c2 = small_config();
  c1.tensor_sizes = {256 * 10};
  c2.tensor_sizes = {256 * 20};
  TokenAutoencoder a(c1), b(c2);
  EXPECT_EQ(parameter_count(*b) - parameter_count(*a), 2 * 10 * c1.hidden);
  EXPECT_DOUBLE_EQ(b->flops_per_sample(), 2 * a->flops_per_sample());
}

TEST(TokenAutoencoder, InferenceDoesNotDependOnTheBatch) {
  TokenAutoencoder ae(small_config());
  torch::NoGradGuard ng;
  auto x = torch::randn({4, 817});
  auto all = ae->decode(ae->encode(x));
  auto one = ae->decode(ae->encode(x.slice(0, 1, 2)));
  EXPECT_LT((all.slice(0, 1, 2) - one).abs().max().item<double>(), 1e-5);
}

// It learns: K vectors that differ along 3 hidden directions (as a zoo's checkpoints do) are
// reconstructed to a small fraction of their variance.
TEST(TokenAutoencoder, LearnsALowDimensionalZoo) {
  torch::manual_seed(0);
  auto c = small_config();
  c.input_noise = 0;
  c.latent_noise = 0;
  const int64_t k = 40;
  auto x = torch::randn({k, 3}).matmul(torch::randn({3, 817}));
  TokenAutoencoder ae(c);
  torch::optim::Adam opt(ae->parameters(), torch::optim::AdamOptions(3e-3));
  for (int step = 0; step < 400; ++step) {
    auto gen = make_generator(0, 1, step);
    auto loss = torch::mse_loss(ae->forward_noisy(x, gen), x);
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  torch::NoGradGuard ng;
  const double err = torch::mse_loss(ae->decode(ae->encode(x)), x).item<double>();
  EXPECT_LT(err, 0.05 * x.var().item<double>());
}

}  // namespace
}  // namespace pdiff::token_autoencoder_test
