// The novelty verdict on constructed reports: dominated, dominating, neither, ties in novelty,
// the accuracy limits ("equal accuracy" and "do not work"), which groups are baselines, the
// numbers it quotes, and a report without the groups it needs.
#include <gtest/gtest.h>

#include "eval/evaluate.h"

#include "core/error.h"
#include "test_util.h"

namespace pdiff::verdict_test {
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

TEST(Verdict, TiesFollowTheDominanceVerdict) {
  // A tie on both axes is dominance (ties count, eval/dominance.h): not a rival, or the two
  // verdicts of one report would contradict each other.
  EXPECT_CONTAINS(novelty_verdict(report(90.5, 0.85, 90.5, 0.85)), "YES: at equal or better accuracy");
  // Same max-IoU, the baseline 0.05 points less accurate: dominated, not a rival either.
  EXPECT_CONTAINS(novelty_verdict(report(90.5, 0.85, 90.45, 0.85)), "YES: at equal or better accuracy");
  // Same max-IoU, the baseline more accurate: it dominates the generated models: NO.
  EXPECT_CONTAINS(novelty_verdict(report(90.5, 0.85, 90.6, 0.85)), "NO: average16 reaches");
  // Within 0.1 points below and strictly more novel: neither dominates, and it is a rival.
  EXPECT_CONTAINS(novelty_verdict(report(90.5, 0.85, 90.45, 0.84)), "NO: average16 reaches");
}

TEST(Verdict, AMoreAccurateBaselineCountsAtEqualAccuracy) {
  // 2 points above the generated models: at equal or better accuracy, so compared.
  EXPECT_CONTAINS(novelty_verdict(report(90.5, 0.80, 92.5, 0.95)), "YES: at equal or better accuracy, every baseline (average16)");
  EXPECT_CONTAINS(novelty_verdict(report(90.5, 0.80, 92.5, 0.70)), "NO: average16 reaches");
}

TEST(Verdict, NamesEveryRivalAndEveryLessNovelBaseline) {
  EvalReport r = report(90.5, 0.80, 90.5, 0.90);  // average16: less novel
  r.groups.push_back(group("noise_std_0.15", 90.6, 90.0, 0.70));  // more novel, as accurate
  r.groups.push_back(group("gaussian", 90.45, 90.0, 0.75));       // more novel, 0.05 below: as accurate
  r.groups.push_back(group("noise_raw_0.12", 85.0, 80.0, 0.20));  // very novel but 5.5 points below
  std::string v = novelty_verdict(r);
  EXPECT_CONTAINS(v, "NO: noise_std_0.15, gaussian reach the generated models' accuracy");
  EXPECT_CONTAINS(v, "Less novel at equal accuracy: average16.");
  EXPECT_EQ(v.find("noise_raw_0.12"), std::string::npos) << "a less accurate baseline is not named: " << v;
  // Without the rivals: YES, naming every baseline it beats.
  r.groups.erase(r.groups.begin() + 4, r.groups.begin() + 6);
  EXPECT_CONTAINS(novelty_verdict(r), "YES: at equal or better accuracy, every baseline (average16) is more similar");
}

TEST(Verdict, OnlyBaselinesAreCompared) {
  // The originals, the generated models themselves and the ensemble (one model, the mean of
  // the originals) are not baselines of novelty, however accurate and dissimilar.
  EvalReport r = report(90.5, 0.80, 90.5, 0.90);
  r.groups[0] = group("original", 95.0, 89.0, 0.10);
  r.groups[2] = group("ensemble", 95.0, 95.0, 0.10);
  std::string v = novelty_verdict(r);
  EXPECT_CONTAINS(v, "YES: at equal or better accuracy, every baseline (average16) is more similar");
  EXPECT_EQ(v.find("ensemble"), std::string::npos) << v;
  EXPECT_EQ(v.find("original,"), std::string::npos) << v;
}

TEST(Verdict, NoBaselinesAtAllCannotBeCompared) {
  EvalReport r = report(90.5, 0.80, 90.5, 0.90);
  r.groups.pop_back();  // no average16: original, generated and ensemble only
  EXPECT_CONTAINS(novelty_verdict(r), "No baseline reaches the generated models' accuracy");
}

TEST(Verdict, DoNotWorkMeansMoreThanOnePointBelowTheWeakestOriginal) {
  // Weakest original 89.0 %: 88.0 is exactly 1 point below (still compared), 87.9 is not.
  std::string at_limit = novelty_verdict(report(88.0, 0.80, 88.0, 0.90));
  EXPECT_EQ(at_limit.find("do not work"), std::string::npos) << at_limit;
  EXPECT_CONTAINS(at_limit, "YES");
  std::string below = novelty_verdict(report(87.9, 0.80, 88.0, 0.90));
  EXPECT_CONTAINS(below, "NO: the generated models do not work as well as the originals (mean 87.90 %");
  EXPECT_CONTAINS(below, "weakest original, 89.00 %");
}

TEST(Verdict, QuotesTheReportsNumbers) {
  EvalReport r = report(90.456, 0.8123, 90.5, 0.90);
  std::string v = novelty_verdict(r);
  EXPECT_CONTAINS(v, "Generated models: mean accuracy 90.46 % (originals 90.00 %), mean max-IoU to the originals 0.812 "
                     "(originals to each other 0.980).");
}

TEST(Verdict, AReportWithoutTheGeneratedOrOriginalGroupIsAnError) {
  for (const char* missing : {"generated", "original"}) {
    EvalReport r = report(90.5, 0.80, 90.5, 0.90);
    for (size_t i = 0; i < r.groups.size(); ++i)
      if (r.groups[i].name == missing) r.groups.erase(r.groups.begin() + i);
    std::string msg = test::error_of([&] { novelty_verdict(r); });
    EXPECT_CONTAINS(msg, std::string("no group '") + missing + "'");
  }
}

}  // namespace
}  // namespace pdiff::verdict_test
