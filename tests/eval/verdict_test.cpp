// The novelty verdict on constructed reports: dominated, dominating, and not working at all.
#include <gtest/gtest.h>

#include "eval/evaluate.h"

namespace pdiff {
namespace {

GroupResult group(const std::string& name, double mean, double min, double max_sim) {
  GroupResult g;
  g.name = name;
  g.acc.mean = mean;
  g.acc.min = min;
  g.max_sim_mean = max_sim;
  return g;
}

EvalReport report(double gen_mean, double gen_sim, double base_mean, double base_sim) {
  EvalReport r;
  r.groups = {group("original", 90.0, 89.0, 0.98), group("generated", gen_mean, gen_mean - 0.5, gen_sim),
              group("ensemble", 91.0, 91.0, 0.90), group("average16", base_mean, base_mean - 0.2, base_sim)};
  return r;
}

TEST(Verdict, MoreNovelThanEveryBaselineAtEqualAccuracy) {
  std::string v = novelty_verdict(report(90.5, 0.80, 90.5, 0.90));
  EXPECT_NE(v.find("YES"), std::string::npos) << v;
  EXPECT_NE(v.find("average16"), std::string::npos) << v;
}

TEST(Verdict, ABaselineAsNovelAtEqualAccuracyIsANo) {
  std::string v = novelty_verdict(report(90.5, 0.90, 90.45, 0.85));
  EXPECT_EQ(v.find("YES"), std::string::npos) << v;
  EXPECT_NE(v.find("NO: average16"), std::string::npos) << v;
}

TEST(Verdict, LessAccurateBaselinesAreNotRivals) {
  // 0.2 points below the generated mean: not "at equal accuracy", however novel.
  std::string v = novelty_verdict(report(90.5, 0.90, 90.3, 0.50));
  EXPECT_NE(v.find("No baseline reaches"), std::string::npos) << v;
}

TEST(Verdict, BrokenGeneratedModelsAreNotCalledNovel) {
  // Mean 27 % against originals of at least 89 %: dissimilar, but not working models.
  std::string v = novelty_verdict(report(27.0, 0.13, 90.5, 0.90));
  EXPECT_EQ(v.find("YES"), std::string::npos) << v;
  EXPECT_NE(v.find("do not work"), std::string::npos) << v;
}

}  // namespace
}  // namespace pdiff
