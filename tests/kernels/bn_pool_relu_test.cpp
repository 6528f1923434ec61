#include "kernels/bn_pool_relu.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace pdiff::bn_pool_relu_test {
namespace {

// The fused op against BatchNorm2d -> max_pool2d -> relu: output, running statistics and the
// gradients of x, weight and bias.
void expect_same_as_unfused(int64_t batch, int64_t channels, int64_t size, bool channels_last) {
  SCOPED_TRACE("batch " + std::to_string(batch) + " channels " + std::to_string(channels) + " size " +
               std::to_string(size) + (channels_last ? " channels-last" : " contiguous"));
  torch::nn::BatchNorm2d fused(channels), reference(channels);
  {
    torch::NoGradGuard ng;
    fused->weight.normal_(0, 1);  // some negative: max-pooling then picks the smallest input
    fused->bias.normal_(0, 1);
    fused->running_mean.normal_(0, 1);
    reference->weight.copy_(fused->weight);
    reference->bias.copy_(fused->bias);
    reference->running_mean.copy_(fused->running_mean);
  }
  auto x = (torch::randn({batch, channels, size, size}) * 2 + 0.5);
  if (channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
  auto x1 = x.clone().requires_grad_(true), x2 = x.clone().requires_grad_(true);
  auto y1 = bn_pool_relu_train(x1, *fused);
  auto y2 = torch::relu(torch::max_pool2d(reference(x2), 2));
  ASSERT_EQ(y1.sizes(), y2.sizes());
  EXPECT_LT(test::max_relative_difference(y1, y2), 1e-5);
  EXPECT_LT(test::max_relative_difference(fused->running_mean, reference->running_mean), 1e-5);
  EXPECT_LT(test::max_relative_difference(fused->running_var, reference->running_var), 1e-5);
  EXPECT_EQ(fused->num_batches_tracked.item<int64_t>(), 1);

  auto g = torch::randn_like(y2);
  y1.backward(g);
  y2.backward(g);
  EXPECT_LT(test::max_relative_difference(x1.grad(), x2.grad()), 1e-4);
  EXPECT_LT(test::max_relative_difference(fused->weight.grad(), reference->weight.grad()), 1e-4);
  EXPECT_LT(test::max_relative_difference(fused->bias.grad(), reference->bias.grad()), 1e-4);
}

TEST(BnPoolRelu, MatchesTheUnfusedOperators) {
  expect_same_as_unfused(16, 32, 14, true);
  expect_same_as_unfused(8, 24, 7, true);  // odd size: the last row and column are not pooled
  expect_same_as_unfused(4, 5, 6, false);  // any layout and channel count
}

TEST(BnPoolRelu, ReproducibleAndWithoutInputGradient) {
  torch::nn::BatchNorm2d a(16), b(16);
  auto x = torch::randn({32, 16, 8, 8}).contiguous(torch::MemoryFormat::ChannelsLast);
  auto ya = bn_pool_relu_train(x, *a), yb = bn_pool_relu_train(x, *b);
  EXPECT_TRUE(torch::equal(ya, yb));
  EXPECT_TRUE(torch::equal(a->running_var, b->running_var));
  ya.sum().backward();  // x needs no gradient: only weight and bias get one
  EXPECT_TRUE(a->weight.grad().defined());
  EXPECT_TRUE(torch::isfinite(a->bias.grad()).all().item<bool>());
}

TEST(BnPoolRelu, EvalModeMatchesTheUnfusedOperators) {
  for (bool channels_last : {true, false}) {
    torch::nn::BatchNorm2d bn(12);
    {
      torch::NoGradGuard ng;
      bn->weight.normal_(0, 1);  // negative scales turn the max into a min before the affine map
      bn->bias.normal_(0, 1);
      bn->running_mean.normal_(0, 1);
      bn->running_var.uniform_(0.5, 2);
    }
    bn->eval();
    auto x = torch::randn({6, 12, 9, 9});  // odd size: the last row and column are dropped
    if (channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
    torch::NoGradGuard ng;
    auto fused = bn_pool_relu_eval(x, *bn);
    auto reference = torch::relu(torch::max_pool2d(bn(x), 2));
    ASSERT_EQ(fused.sizes(), reference.sizes());
    EXPECT_LT(test::max_relative_difference(fused, reference), 1e-6) << (channels_last ? "channels-last" : "contiguous");
  }
}

}  // namespace
}  // namespace pdiff::bn_pool_relu_test
