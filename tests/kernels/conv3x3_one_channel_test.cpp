#include "kernels/conv3x3_one_channel.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include "test_util.h"

namespace pdiff::conv3x3_one_channel_test {
namespace {

// Forward and weight gradient against float64 conv2d.
void expect_same_as_conv2d(int64_t batch, int64_t out_channels, int64_t h, int64_t w) {
  SCOPED_TRACE("batch " + std::to_string(batch) + " out " + std::to_string(out_channels) + " size " +
               std::to_string(h) + "x" + std::to_string(w));
  auto x = torch::randn({batch, 1, h, w});
  auto weight = torch::randn({out_channels, 1, 3, 3}, torch::requires_grad());
  auto y = conv3x3_one_channel(x, weight);
  auto weight64 = weight.detach().to(torch::kFloat64).requires_grad_();
  auto reference = torch::conv2d(x.to(torch::kFloat64), weight64, {}, 1, 1);
  ASSERT_EQ(y.sizes(), reference.sizes());
  EXPECT_TRUE(y.is_contiguous(torch::MemoryFormat::ChannelsLast));
  EXPECT_LT(test::max_relative_difference(y.to(torch::kFloat64), reference), 1e-6);

  auto g = torch::randn(y.sizes(), torch::kFloat64);
  y.backward(g.to(torch::kFloat32));
  reference.backward(g);
  EXPECT_LT(test::max_relative_difference(weight.grad().to(torch::kFloat64), weight64.grad()), 1e-5);
}

TEST(Conv3x3OneChannel, MatchesConv2d) {
  expect_same_as_conv2d(16, 32, 28, 28);
  expect_same_as_conv2d(3, 8, 5, 9);   // non-square, small
  expect_same_as_conv2d(2, 16, 1, 1);  // every tap but the centre falls in the padding
}

TEST(Conv3x3OneChannel, SameBitsForAnyThreadCount) {
  auto x = torch::randn({64, 1, 12, 12});
  auto weight = torch::randn({32, 1, 3, 3});
  auto run = [&](int threads) {
    const int before = at::get_num_threads();
    at::set_num_threads(threads);
    auto w = weight.clone().requires_grad_();
    auto y = conv3x3_one_channel(x, w);
    (y * y).sum().backward();
    at::set_num_threads(before);
    return std::make_pair(y.detach(), w.grad());
  };
  auto [y1, g1] = run(1);
  auto [y2, g2] = run(2);
  EXPECT_TRUE(torch::equal(y1, y2));
  EXPECT_TRUE(torch::equal(g1, g2));
}

TEST(Conv3x3OneChannel, InputGradientFallsBackToConv2d) {
  auto x = torch::randn({2, 1, 6, 6}, torch::requires_grad());
  auto weight = torch::randn({8, 1, 3, 3}, torch::requires_grad());
  conv3x3_one_channel(x, weight).sum().backward();
  auto x2 = x.detach().clone().requires_grad_();
  torch::conv2d(x2, weight.detach(), {}, 1, 1).sum().backward();
  EXPECT_LT(test::max_relative_difference(x.grad(), x2.grad()), 1e-5);
  EXPECT_TRUE(weight.grad().defined());
}

TEST(Conv3x3OneChannel, RejectsOtherShapes) {
  EXPECT_THROW(conv3x3_one_channel(torch::randn({2, 3, 6, 6}), torch::randn({8, 3, 3, 3})), c10::Error);
  EXPECT_THROW(conv3x3_one_channel(torch::randn({2, 1, 6, 6}), torch::randn({8, 1, 5, 5})), c10::Error);
}

}  // namespace
}  // namespace pdiff::conv3x3_one_channel_test
