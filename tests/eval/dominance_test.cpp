// Dominance on (mean accuracy, mean max-IoU) (eval/dominance.h): the three outcomes and their
// ties, NaN, Pareto fronts of constructed points, which groups are baselines, and the verdict's
// words on a constructed report.
#include <gtest/gtest.h>

#include <cmath>

#include "eval/dominance.h"
#include "eval/evaluate.h"
#include "test_util.h"

namespace pdiff::dominance_test {
namespace {

TEST(Dominance, BetterOrEqualOnBothAxesDominates) {
  EXPECT_EQ(compare(91.0, 0.80, 90.0, 0.90), Dominance::Dominates);
  EXPECT_EQ(compare(91.0, 0.90, 90.0, 0.90), Dominance::Dominates) << "equal novelty, more accurate";
  EXPECT_EQ(compare(90.0, 0.80, 90.0, 0.90), Dominance::Dominates) << "equal accuracy, more novel";
  EXPECT_EQ(compare(90.0, 0.90, 90.0, 0.90), Dominance::Dominates) << "a tie counts (issue 11's goal)";
}

TEST(Dominance, WorseOnOneAxisAndNotBetterOnTheOtherIsDominated) {
  EXPECT_EQ(compare(90.0, 0.90, 91.0, 0.80), Dominance::Dominated);
  EXPECT_EQ(compare(89.9, 0.90, 90.0, 0.90), Dominance::Dominated) << "less accurate, equally novel";
  EXPECT_EQ(compare(90.0, 0.91, 90.0, 0.90), Dominance::Dominated) << "equally accurate, less novel";
}

TEST(Dominance, ATradeOffIsNeither) {
  EXPECT_EQ(compare(91.0, 0.95, 90.0, 0.90), Dominance::Neither) << "more accurate, less novel";
  EXPECT_EQ(compare(89.0, 0.85, 90.0, 0.90), Dominance::Neither) << "more novel, less accurate";
  EXPECT_EQ(compare(NAN, 0.8, 90.0, 0.9), Dominance::Neither);
  EXPECT_EQ(compare(91.0, 0.8, 90.0, NAN), Dominance::Neither);
  EXPECT_STREQ(to_string(Dominance::Dominates), "dominates");
  EXPECT_STREQ(to_string(Dominance::Dominated), "dominated");
  EXPECT_STREQ(to_string(Dominance::Neither), "neither");
}

TEST(Dominance, ParetoFrontOfConstructedPoints) {
  // (sim, acc): 0 and 2 and 4 are the front; 1 is beaten by 0, 3 by 2, 5 ties 2 (one kept),
  // 6 is NaN, 7 has the same novelty as 4 but less accuracy.
  std::vector<double> sim = {0.70, 0.75, 0.80, 0.85, 0.90, 0.80, NAN, 0.90};
  std::vector<double> acc = {89.0, 88.5, 90.0, 89.9, 91.0, 90.0, 99.0, 90.5};
  EXPECT_EQ(pareto_front(sim, acc), (std::vector<size_t>{0, 2, 4}));
  EXPECT_TRUE(pareto_front({}, {}).empty());
  EXPECT_EQ(pareto_front({0.5}, {90.0}), (std::vector<size_t>{0}));
  // Every point on one rising line is on the front; on a falling line only the first.
  EXPECT_EQ(pareto_front({0.1, 0.2, 0.3}, {1, 2, 3}), (std::vector<size_t>{0, 1, 2}));
  EXPECT_EQ(pareto_front({0.1, 0.2, 0.3}, {3, 2, 1}), (std::vector<size_t>{0}));
}

GroupResult group(const std::string& name, double mean, double max_sim) {
  GroupResult g;
  g.name = name;
  g.acc.mean = mean;
  g.max_sim_mean = max_sim;
  return g;
}

TEST(Dominance, OfGeneratedOverEveryBaselineInWords) {
  EvalReport r;
  r.groups = {group("original", 90.0, 0.98),       group("generated", 91.0, 0.86),
              group("ensemble", 92.0, 0.80),       group("noise_std_0.001", 90.0, 0.99),
              group("average16", 91.2, 0.89),      group("gaussian", 90.5, 0.80),
              group("noise_raw_0.12", 92.0, 0.70)};
  auto rows = dominance_of_generated(r);
  ASSERT_EQ(rows.size(), 4u) << "original, generated and ensemble are not baselines";
  EXPECT_EQ(rows[0].baseline, "noise_std_0.001");
  EXPECT_EQ(rows[0].result, Dominance::Dominates);
  EXPECT_NEAR(rows[0].acc_diff, 1.0, 1e-12);
  EXPECT_NEAR(rows[0].sim_diff, -0.13, 1e-12);
  EXPECT_EQ(rows[1].result, Dominance::Neither);  // average16: more accurate, less novel than generated
  EXPECT_EQ(rows[2].result, Dominance::Neither);  // gaussian: less accurate, more novel
  EXPECT_EQ(rows[3].result, Dominance::Dominated);
  const std::string v = dominance_verdict(rows);
  // One sentence per baseline, each with its two differences.
  EXPECT_CONTAINS(v, "noise_std_0.001: the generated models dominate it (accuracy +1.00 points, max-IoU -0.130). ");
  EXPECT_CONTAINS(v, "average16: neither: the generated models are more novel but less accurate (accuracy -0.20 "
                     "points, max-IoU -0.030). ");
  EXPECT_CONTAINS(v, "gaussian: neither: the generated models are more accurate but less novel (accuracy +0.50 "
                     "points, max-IoU +0.060). ");
  EXPECT_CONTAINS(v, "noise_raw_0.12: it dominates the generated models (accuracy -1.00 points, max-IoU +0.160). ");
  EXPECT_CONTAINS(v, "The generated models dominate 1 of 4 baselines.");
  EXPECT_FALSE(novelty_goal_met(rows, 0.70, 0.73)) << "dominated by one baseline";
  EXPECT_CONTAINS(novelty_goal_sentence(rows, 0.70, 0.73), "Goal not met");
  for (auto& row : rows) row.result = Dominance::Dominates;
  EXPECT_CONTAINS(dominance_verdict(rows), "The generated models dominate every baseline.");
  // The goal: every baseline dominated, and no more alike among themselves than the originals.
  EXPECT_TRUE(novelty_goal_met(rows, 0.70, 0.73));
  EXPECT_TRUE(novelty_goal_met(rows, 0.73, 0.73));
  EXPECT_FALSE(novelty_goal_met(rows, 0.74, 0.73)) << "collapsed: more alike than the originals";
  EXPECT_FALSE(novelty_goal_met(rows, std::nan(""), 0.73));
  EXPECT_FALSE(novelty_goal_met({}, 0.70, 0.73)) << "nothing to dominate";
  EXPECT_CONTAINS(novelty_goal_sentence(rows, 0.70, 0.73),
                  "Goal met: the generated models dominate every baseline and are as diverse as the originals "
                  "(generated-generated IoU 0.700, originals 0.730).");
  EXPECT_CONTAINS(dominance_verdict({}), "there are no baselines");
  EXPECT_TRUE(is_baseline("average16"));
  EXPECT_FALSE(is_baseline("ensemble"));
}

}  // namespace
}  // namespace pdiff::dominance_test
