#include "gen/autoencoder.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "zoo/optim.h"
#include "zoo/batch_schedule.h"
#include "test_util.h"

namespace pdiff::autoencoder_test {
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
}

TEST(Autoencoder, FlopsAreTwiceTheMultiplyAddsOfEveryConvAndLinear) {
  // By hand, dim 16, channels {2, 3}, kernel 3, latent 4 (output length x out x in x kernel):
  // encoder convs 8*2*1*3 + 4*3*2*3 = 48 + 72; Linears 2 * (3*4)*4 = 96; decoder convs (both
  // to 2 channels) 8*2*3*3 + 16*2*2*3 = 144 + 192; output conv 16*1*2*3 = 96. Sum 648.
  AutoencoderConfig tiny;
  tiny.dim = 16;
  tiny.channels = {2, 3};
  tiny.kernel = 3;
  tiny.latent = 4;
  EXPECT_EQ(Autoencoder(tiny)->flops_per_sample(), 2.0 * 648);

  // The same count from the module's own weights: a conv's weight (out, in, kernel) does
  // out*in*kernel multiply-adds per output position, a Linear's weight one per element.
  // Output lengths: encoder conv i halves to dim / 2^(i+1); decoder conv j doubles back to
  // (dim / 2^blocks) * 2^(j+1); the output conv keeps dim. Norms and biases are not counted.
  auto cfg = small_config();
  Autoencoder ae(cfg);
  const int64_t blocks = static_cast<int64_t>(cfg.channels.size());
  double macs = 0;
  int convs = 0, linears = 0;
  for (const auto& p : ae->named_parameters()) {
    const std::string& name = p.key();
    const auto& w = p.value();
    if (name.size() < 7 || name.compare(name.size() - 7, 7, ".weight") != 0 || w.dim() == 1) continue;
    double numel = static_cast<double>(w.numel());
    if (w.dim() == 2) {
      macs += numel, ++linears;
      continue;
    }
    int64_t len = 0, index = std::atoi(name.c_str() + name.find('.') + 1);
    if (name.rfind("enc_convs.", 0) == 0) len = cfg.dim >> (index + 1);
    else if (name.rfind("dec_convs.", 0) == 0) len = (cfg.dim >> blocks) << (index + 1);
    else if (name == "out_conv.weight") len = cfg.dim;
    ASSERT_GT(len, 0) << "unexpected layer " << name;
    macs += numel * len, ++convs;
  }
  EXPECT_EQ(convs, 2 * blocks + 1);
  EXPECT_EQ(linears, 2);
  EXPECT_EQ(ae->flops_per_sample(), 2 * macs);
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

TEST(Autoencoder, InputAndLatentNoiseHaveTheirOwnScales) {
  // forward_noisy draws the input noise (B, dim) and then the latent noise (B, latent) from
  // gen; replaying those draws through encode/decode must give its output. Different scales
  // at the two places, so that swapping them (or dropping one) gives another output.
  auto cfg = small_config();
  cfg.input_noise = 0.3;
  cfg.latent_noise = 0.02;
  Autoencoder ae(cfg);
  torch::NoGradGuard ng;
  auto x = torch::randn({4, 256});
  auto gen = make_generator(5), replay = make_generator(5);
  auto out = ae->forward_noisy(x, gen);
  auto e_in = torch::randn({4, 256}, replay), e_lat = torch::randn({4, 32}, replay);
  auto with = [&](double in, double lat) { return ae->decode(ae->encode(x + in * e_in) + lat * e_lat); };
  EXPECT_LT(test::max_relative_difference(out, with(0.3, 0.02)), 1e-5);
  // The check tells the alternatives apart.
  EXPECT_GT(test::max_relative_difference(with(0.02, 0.3), with(0.3, 0.02)), 1e-2) << "swapped scales";
  EXPECT_GT(test::max_relative_difference(with(0.3, 0.0), with(0.3, 0.02)), 1e-3) << "no latent noise";
  EXPECT_GT(test::max_relative_difference(with(0.0, 0.02), with(0.3, 0.02)), 1e-2) << "no input noise";
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
  AdamW opt(ae->parameters(), /*weight_decay=*/0.0);  // the optimizer `pdiff train` uses
  auto gen = make_generator(3);
  double first = 0, last = 0;
  for (int i = 0; i < 150; ++i) {
    auto loss = torch::mse_loss(ae->forward_noisy(x, gen), x);
    opt.zero_grad();
    loss.backward();
    opt.step(3e-3);
    if (i == 0) first = loss.item<double>();
    last = loss.item<double>();
  }
  EXPECT_LT(last, 0.5 * first);
}

}  // namespace
}  // namespace pdiff::autoencoder_test
