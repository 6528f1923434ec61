#include "kernels/affine_relu.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace pdiff::affine_relu_test {
namespace {

TEST(AffineRelu, PooledAffineReluPicksMaxOrMinBySign) {
  auto pooled = torch::randn({9, 37, 2 * 12});
  auto scale = torch::randn({12}), shift = torch::randn({12});
  auto max_part = pooled.slice(2, 0, 12), min_part = pooled.slice(2, 12, 24);
  auto expected = torch::relu(torch::where(scale >= 0, max_part, min_part) * scale + shift);
  EXPECT_LT(test::max_relative_difference(pooled_affine_relu(pooled, scale, shift), expected), 1e-6);
}

TEST(AffineRelu, AffineReluMeanOverPositions) {
  auto y = torch::randn({9, 37, 20});
  auto scale = torch::randn({20}), shift = torch::randn({20});
  auto expected = torch::relu(y * scale + shift).mean(0);
  EXPECT_LT(test::max_relative_difference(affine_relu_mean(y, scale, shift), expected), 1e-6);
}

TEST(AffineRelu, RejectsMismatchedShapes) {
  EXPECT_THROW(pooled_affine_relu(torch::randn({9, 4, 7}), torch::randn({3}), torch::randn({3})), c10::Error);
  EXPECT_THROW(affine_relu_mean(torch::randn({9, 4, 6}), torch::randn({5}), torch::randn({6})), c10::Error);
}

}  // namespace
}  // namespace pdiff::affine_relu_test
