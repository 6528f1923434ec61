// The linear assignment solver against brute force: every permutation of small random and tied
// matrices, and the refusals.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "zoo/linear_assignment.h"
#include "test_util.h"

namespace pdiff::linear_assignment_test {
namespace {

double total(const torch::Tensor& s, const std::vector<int64_t>& p) {
  const auto a = s.accessor<double, 2>();
  double sum = 0;
  for (size_t i = 0; i < p.size(); ++i) sum += a[i][p[i]];
  return sum;
}

double brute_force_best(const torch::Tensor& s) {
  std::vector<int64_t> p(s.size(0));
  std::iota(p.begin(), p.end(), 0);
  double best = -1e300;
  do best = std::max(best, total(s, p));
  while (std::next_permutation(p.begin(), p.end()));
  return best;
}

bool is_permutation_of_n(std::vector<int64_t> p) {
  std::sort(p.begin(), p.end());
  for (size_t i = 0; i < p.size(); ++i)
    if (p[i] != static_cast<int64_t>(i)) return false;
  return true;
}

TEST(LinearAssignment, MatchesBruteForceOnRandomAndTiedMatrices) {
  torch::manual_seed(0);
  for (int64_t n = 1; n <= 7; ++n)
    for (int trial = 0; trial < 6; ++trial) {
      SCOPED_TRACE("n " + std::to_string(n) + ", trial " + std::to_string(trial));
      // Continuous scores of both signs, then small integers (many ties), then a scaled copy.
      torch::Tensor s = trial < 2   ? torch::randn({n, n}, torch::kFloat64)
                        : trial < 4 ? torch::randint(0, 3, {n, n}).to(torch::kFloat64)
                                    : 1e6 * torch::randn({n, n}, torch::kFloat64);
      const std::vector<int64_t> p = max_weight_assignment(s);
      ASSERT_EQ(static_cast<int64_t>(p.size()), n);
      EXPECT_TRUE(is_permutation_of_n(p));
      EXPECT_NEAR(total(s, p), brute_force_best(s), 1e-9 * std::max(1.0, std::abs(brute_force_best(s))));
    }
}

TEST(LinearAssignment, RecoversAHiddenPermutationOfALargeMatrix) {
  // Rows of a random orthogonal-ish matrix against a shuffled copy: the shuffle is the unique best.
  torch::manual_seed(1);
  const int64_t n = 256;
  const torch::Tensor w = torch::randn({n, 64}, torch::kFloat64);
  const torch::Tensor shuffle = torch::randperm(n);
  const std::vector<int64_t> p = max_weight_assignment(w.matmul(w.index_select(0, shuffle).t()));
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(shuffle[p[i]].item<int64_t>(), i) << i;
}

TEST(LinearAssignment, RefusesWhatIsNotASquareFiniteMatrix) {
  EXPECT_CONTAINS(test::error_of([] { max_weight_assignment(torch::zeros({2, 3})); }), "square");
  torch::Tensor s = torch::zeros({2, 2});
  s[0][1] = std::nan("");
  EXPECT_CONTAINS(test::error_of([&] { max_weight_assignment(s); }), "NaN");
  EXPECT_TRUE(max_weight_assignment(torch::zeros({0, 0})).empty());
}

}  // namespace
}  // namespace pdiff::linear_assignment_test
