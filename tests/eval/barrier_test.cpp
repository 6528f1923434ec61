#include "eval/barrier.h"

#include <gtest/gtest.h>

namespace pdiff::barrier_test {
namespace {

TEST(Barrier, PairsHalfTheZooApart) {
  using P = std::vector<std::pair<int64_t, int64_t>>;
  EXPECT_EQ(barrier_pairs(7, 4), (P{{0, 3}, {1, 4}, {2, 5}}));
  EXPECT_EQ(barrier_pairs(20, 4), (P{{0, 10}, {1, 11}, {2, 12}, {3, 13}}));
  EXPECT_EQ(barrier_pairs(1, 4), P{});
  EXPECT_EQ(barrier_pairs(20, 0), P{});
}

TEST(Barrier, InteriorModelsOnTheLineAndTheLargestDrop) {
  const torch::Tensor params = torch::tensor({{0.0f, 4.0f}, {8.0f, 0.0f}, {4.0f, 4.0f}});
  const torch::Tensor accuracy = torch::tensor({60.0, 80.0, 70.0});
  torch::Tensor seen;
  // A made-up measure: 70 - 10 * the first coordinate's distance from 4 (a dip in the middle).
  const auto curves = accuracy_barriers(params, accuracy, {{0, 1}, {2, 2}}, [&](const torch::Tensor& rows) {
    seen = rows.clone();
    return 70.0 - 10.0 * (rows.select(1, 0).to(torch::kFloat64) - 4).abs();
  });
  ASSERT_EQ(seen.sizes(), (std::vector<int64_t>{6, 2}));
  EXPECT_TRUE(torch::allclose(seen[0], torch::tensor({2.0f, 3.0f})));  // 3/4 * a + 1/4 * b
  EXPECT_TRUE(torch::allclose(seen[1], torch::tensor({4.0f, 2.0f})));
  EXPECT_TRUE(torch::allclose(seen[2], torch::tensor({6.0f, 1.0f})));
  ASSERT_EQ(curves.size(), 2u);
  EXPECT_EQ(curves[0].alpha, (std::vector<double>{0, 0.25, 0.5, 0.75, 1}));
  EXPECT_EQ(curves[0].accuracy, (std::vector<double>{60, 50, 70, 50, 80}));
  // The line from 60 to 80 passes 65 at 1/4 and 75 at 3/4: drops of 15 and 25.
  EXPECT_DOUBLE_EQ(curves[0].barrier, 25.0);
  EXPECT_DOUBLE_EQ(curves[1].barrier, 0.0);  // a model with itself: the line is flat at 70
}

}  // namespace
}  // namespace pdiff::barrier_test
