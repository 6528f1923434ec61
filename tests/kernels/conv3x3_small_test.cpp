// Winograd F(4x4, 3x3) on whole 4x4 maps (ResNet-18's layer4 at 28-32 px) against double precision.
#include <gtest/gtest.h>

#include "kernels/conv3x3_small.h"

namespace pdiff::conv3x3_small_test {
namespace {

TEST(Conv3x3Small, Winograd4x4MatchesConv2dInDoublePrecision) {
  torch::manual_seed(3);
  auto x = torch::relu(torch::randn({100, 64, 4, 4}));
  auto w = torch::randn({48, 64, 3, 3}) * 0.1;
  auto exact = torch::conv2d(x.to(torch::kFloat64), w.to(torch::kFloat64), {}, 1, 1);
  auto positions = x.permute({2, 3, 0, 1}).reshape({16, 100, 64});
  auto weight = winograd_weight(w, 4);
  EXPECT_EQ(weight.sizes(), (std::vector<int64_t>{36, 64, 48}));
  auto y = conv3x3_winograd(positions, weight, 4).view({4, 4, 100, 48}).permute({2, 3, 0, 1});
  const double scale = exact.abs().max().item<double>();
  const double err = (y.to(torch::kFloat64) - exact).abs().max().item<double>() / scale;
  EXPECT_LT(err, 2e-5) << err;
  // float32 direct conv for comparison: Winograd is within ~20x of its rounding.
  auto direct = torch::conv2d(x, w, {}, 1, 1).to(torch::kFloat64);
  std::cout << "relative error: Winograd 4x4 " << err << ", direct "
            << (direct - exact).abs().max().item<double>() / scale << "\n";
  EXPECT_THROW(winograd_weight(w, 5), c10::Error);
}

}  // namespace
}  // namespace pdiff::conv3x3_small_test
