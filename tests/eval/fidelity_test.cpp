// Precision, recall, density, coverage and modes (eval/fidelity.h) on constructed sets with known
// answers: identical sets, a copied set, disjoint sets, a collapsed set, two collapsed clusters,
// small hand-made distance matrices, the undefined cases; and the distances they are computed
// from (eval/distance.h): chunked parameter L2 against torch::cdist, the per-coordinate scale,
// near copies, exact symmetry, and the Jaccard distance of wrong-prediction sets.
#include <gtest/gtest.h>

#include <cmath>

#include "eval/distance.h"
#include "eval/fidelity.h"
#include "test_util.h"
#include "zoo/batch_schedule.h"

namespace pdiff::fidelity_test {
namespace {

constexpr int64_t kK = 5;

torch::Tensor points(int64_t n, int64_t d, uint64_t seed) {
  auto gen = make_generator(seed);
  return torch::randn({n, d}, gen, torch::kFloat32);
}

// Fidelity of `fake` against `real` in parameter space (no scale).
Fidelity of(const torch::Tensor& real, const torch::Tensor& fake) {
  return fidelity(param_self_distances(real), param_self_distances(fake), param_distances(fake, real), kK);
}

TEST(Fidelity, IdenticalSetsLeavingEachOutCoverAndHaveDensityOne) {
  // The originals against themselves, each left out of its own comparison: every original's
  // nearest other original is inside its ball (coverage 1) and every ball holds exactly k others
  // (density 1); precision and recall are the share that is someone's k-NN: almost all.
  auto real = points(100, 8, 1);
  Fidelity f = fidelity_of_reference(param_self_distances(real), kK);
  EXPECT_EQ(f.coverage, 1.0);
  EXPECT_EQ(f.density, 1.0);
  EXPECT_GT(f.precision, 0.85);
  EXPECT_LE(f.precision, 1.0);
  EXPECT_EQ(f.recall, f.precision) << "left out, recall and precision ask the same question";
  EXPECT_GE(f.modes, 1);
}

TEST(Fidelity, ACopiedSetScoresPerfectlyAndIsNotFlaggedAsACopy) {
  // A group that is the originals themselves (copies): fidelity cannot tell copies from new
  // models. Each copy is in its original's ball and its k neighbours' balls: density (k+1)/k.
  // The copy shows in the nearest-neighbour distance instead (0).
  auto real = points(60, 8, 2);
  Fidelity f = of(real, real.clone());
  EXPECT_EQ(f.precision, 1.0);
  EXPECT_EQ(f.recall, 1.0);
  EXPECT_EQ(f.coverage, 1.0);
  // (Within one count: a copy's distance to its original's k-th neighbour is computed apart from
  // that neighbour's radius, so the two may differ in the last bit.)
  EXPECT_NEAR(f.density, (kK + 1.0) / kK, 1.0 / (kK * 60));
  EXPECT_LT(std::get<0>(param_distances(real.clone(), real).min(1)).max().item<double>(), 1e-4);
  // Same modes as the originals (same points, same threshold).
  EXPECT_EQ(f.modes, fidelity_of_reference(param_self_distances(real), kK).modes);
}

TEST(Fidelity, ASecondSampleOfTheSameDistributionIsCloseToOne) {
  auto real = points(400, 4, 3), fake = points(400, 4, 4);
  Fidelity f = of(real, fake);
  EXPECT_GT(f.precision, 0.7);
  EXPECT_GT(f.recall, 0.7);
  EXPECT_GT(f.coverage, 0.8);
  EXPECT_NEAR(f.density, 1.0, 0.25);
}

TEST(Fidelity, DisjointSetsScoreZero) {
  auto real = points(50, 8, 5), fake = points(40, 8, 6) + 100.0;
  Fidelity f = of(real, fake);
  EXPECT_EQ(f.precision, 0.0);
  EXPECT_EQ(f.recall, 0.0);
  EXPECT_EQ(f.density, 0.0);
  EXPECT_EQ(f.coverage, 0.0);
}

TEST(Fidelity, ACollapsedSetIsPreciseButNotDiverseAndOneMode) {
  // 40 models within 1e-3 of one original: all inside that original's ball (precision 1), but
  // they reach only the originals near it (recall, coverage low), and they are one mode.
  auto real = points(100, 8, 7);
  auto fake = real.slice(0, 3, 4) + 1e-3 * points(40, 8, 8);
  Fidelity f = of(real, fake);
  EXPECT_EQ(f.precision, 1.0);
  EXPECT_LT(f.recall, 0.05);
  EXPECT_LT(f.coverage, 0.15);
  EXPECT_GE(f.density, 1.0 / kK) << "at least the collapse point's own ball";
  EXPECT_EQ(f.modes, 1);
  // The originals themselves are spread out: many more modes.
  EXPECT_GT(fidelity_of_reference(param_self_distances(real), kK).modes, 1);
}

TEST(Fidelity, TwoTightClustersAreTwoModes) {
  auto real = points(100, 8, 9);
  auto d = param_self_distances(real);
  const int64_t far = d.flatten().argmax().item<int64_t>();  // the two originals furthest apart
  const int64_t i = far / 100, j = far % 100;
  ASSERT_GT(d[i][j].item<double>(), 2 * mode_threshold(d, kK));
  auto fake = torch::cat({real.slice(0, i, i + 1) + 1e-3 * points(20, 8, 10),
                          real.slice(0, j, j + 1) + 1e-3 * points(30, 8, 11)});
  Fidelity f = of(real, fake);
  EXPECT_EQ(f.modes, 2);
  EXPECT_EQ(f.precision, 1.0);
  EXPECT_LT(f.coverage, 0.25);
}

TEST(Fidelity, RadiiAndModesOnALine) {
  // Points 0, 1, 3, 6, 10 on a line.
  auto x = torch::tensor({0.0, 1.0, 3.0, 6.0, 10.0}, torch::kFloat64).unsqueeze(1);
  auto d = torch::cdist(x, x);
  EXPECT_TRUE(torch::equal(knn_radii(d, 1), torch::tensor({1.0, 1.0, 2.0, 3.0, 4.0}, torch::kFloat64)));
  EXPECT_TRUE(torch::equal(knn_radii(d, 2), torch::tensor({3.0, 2.0, 3.0, 4.0, 7.0}, torch::kFloat64)));
  EXPECT_EQ(mode_threshold(d, 1), 2.0);  // median of 1, 1, 2, 3, 4
  EXPECT_EQ(count_modes(d, 0.5), 5);
  EXPECT_EQ(count_modes(d, 1.0), 4) << "closed: a gap equal to the threshold joins";
  EXPECT_EQ(count_modes(d, 2.0), 3);
  EXPECT_EQ(count_modes(d, 3.5), 2);
  EXPECT_EQ(count_modes(d, 4.0), 1);
  EXPECT_EQ(count_modes(d, NAN), -1);
  // Hand-computed fidelity of fake points {0.5, 20} against these with k = 1: 0.5 lies in the
  // balls of 0 (radius 1) and 1 (radius 1), 20 in none.
  auto f = torch::tensor({0.5, 20.0}, torch::kFloat64).unsqueeze(1);
  Fidelity fid = fidelity(d, torch::cdist(f, f), torch::cdist(f, x), 1);
  EXPECT_EQ(fid.precision, 0.5);
  EXPECT_EQ(fid.density, 2.0 / 2);
  EXPECT_EQ(fid.coverage, 2.0 / 5);  // 0 and 1 have 0.5 inside their balls
  // Each fake's ball (k = 1) reaches the other fake, 19.5 away: it holds every original.
  EXPECT_EQ(fid.recall, 1.0);
}

TEST(Fidelity, UndefinedWhereThereAreTooFewModels) {
  auto real = points(5, 3, 12), fake = points(3, 3, 13);
  // 5 originals: no 5th nearest *other* original.
  Fidelity f = of(real, fake);
  EXPECT_TRUE(std::isnan(f.precision) && std::isnan(f.recall) && std::isnan(f.density) && std::isnan(f.coverage));
  EXPECT_EQ(f.modes, -1);
  EXPECT_TRUE(std::isnan(mode_threshold(param_self_distances(real), kK)));
  EXPECT_TRUE(knn_radii(param_self_distances(real), kK).isnan().all().item<bool>());
  // Enough originals, 3 models (the ensemble is 1): everything but recall.
  auto real20 = points(20, 3, 14);
  f = of(real20, fake);
  EXPECT_FALSE(std::isnan(f.precision) || std::isnan(f.density) || std::isnan(f.coverage));
  EXPECT_TRUE(std::isnan(f.recall));
  EXPECT_GE(f.modes, 1);
  f = of(real20, real20.slice(0, 0, 1));
  EXPECT_EQ(f.precision, 1.0);
  EXPECT_EQ(f.modes, 1);
}

TEST(Fidelity, ShapesAreChecked) {
  auto d = torch::zeros({4, 4}, torch::kFloat64);
  EXPECT_CONTAINS(test::error_of([&] { fidelity(d, torch::zeros({2, 2}), torch::zeros({3, 4}), 1); }),
                  "fake_real must be (2, 4)");
  EXPECT_CONTAINS(test::error_of([&] { knn_radii(torch::zeros({2, 3}), 1); }), "square");
  EXPECT_CONTAINS(test::error_of([&] { knn_radii(d, 0); }), "k must be at least 1");
}

TEST(FidelityDistance, ParamDistancesMatchCdistInEveryChunking) {
  auto a = points(7, 1000, 20), b = points(5, 1000, 21) * 3.0;
  auto want = torch::cdist(a.to(torch::kFloat64), b.to(torch::kFloat64));
  for (int64_t chunk : {0, 1, 7, 333, 1000, 5000})
    EXPECT_LT(test::max_relative_difference(param_distances(a, b, {}, chunk), want), 1e-12) << chunk;
  // A per-coordinate scale divides each coordinate first.
  auto gen = make_generator(22);
  auto scale = torch::rand({1000}, gen) + 0.1;
  auto scaled = torch::cdist((a / scale).to(torch::kFloat64), (b / scale).to(torch::kFloat64));
  EXPECT_LT(test::max_relative_difference(param_distances(a, b, scale, 64), scaled), 1e-6);
  EXPECT_CONTAINS(test::error_of([&] { param_distances(a, b, torch::ones({3})); }), "scale has 3 entries");
  EXPECT_CONTAINS(test::error_of([&] { param_distances(a, points(2, 9, 0)); }), "(A, D) and (B, D)");
}

TEST(FidelityDistance, RowBlocksGiveTheRowsOfTheirStack) {
  // The report measures every group against the originals at once: the blocks' rows, in order.
  auto a1 = points(3, 1000, 30), a2 = points(1, 1000, 31) * 2.0, a3 = points(4, 1000, 32) - 1.0;
  auto b = points(5, 1000, 33);
  auto gen = make_generator(34);
  auto scale = torch::rand({1000}, gen) + 0.1;
  auto want = torch::cdist((torch::cat({a1, a2, a3}) / scale).to(torch::kFloat64), (b / scale).to(torch::kFloat64));
  for (int64_t chunk : {0, 7, 1000})
    EXPECT_LT(test::max_relative_difference(param_distances({a1, a2, a3}, b, scale, chunk), want), 1e-6) << chunk;
  // A row's distances depend on it and b alone, bit for bit: a baseline's figures in the report
  // stay the same whatever the generated models measured with it are.
  auto d = param_distances({a1, a2, a3}, b, scale), other = param_distances({a1 * 5.0, a2, a3}, b, scale);
  EXPECT_TRUE(torch::equal(d.slice(0, 3), other.slice(0, 3)));
  EXPECT_FALSE(torch::equal(d.slice(0, 0, 3), other.slice(0, 0, 3)));
  EXPECT_CONTAINS(test::error_of([&] { param_distances({a1, points(2, 9, 0)}, b); }), "(A, D) and (B, D)");
}

TEST(FidelityDistance, NearCopiesOfLargeVectorsKeepTheirDistance) {
  // Vectors of norm ~3e4 that differ by 1e-3 in one coordinate: |x|^2 + |y|^2 - 2 x.y without
  // centring and float64 would lose it.
  auto a = 1000.0 + points(3, 1000, 23);
  auto b = a.clone();
  b.index_put_({torch::indexing::Slice(), 17}, b.index({torch::indexing::Slice(), 17}) + 1e-3f);
  auto exact = (b.select(1, 17).to(torch::kFloat64) - a.select(1, 17).to(torch::kFloat64)).abs();
  auto d = param_distances(a, b).diagonal();
  EXPECT_LT((d - exact).abs().max().item<double>(), 1e-6 * 1e-3) << d;
}

TEST(FidelityDistance, SelfDistancesAreExactlySymmetricWithZeroDiagonal) {
  auto a = points(40, 300, 24);
  auto d = param_self_distances(a);
  EXPECT_TRUE(torch::equal(d, d.t()));
  EXPECT_EQ(d.diagonal().abs().max().item<double>(), 0.0);
}

TEST(FidelityDistance, PredictionDistanceIsOneMinusIoU) {
  auto w = torch::tensor({{1, 1, 0, 0}, {1, 0, 1, 0}, {0, 0, 1, 1}, {0, 0, 0, 0}}, torch::kBool);
  auto d = prediction_distances(w, w);
  auto want = torch::tensor({{0.0, 1 - 1.0 / 3, 1.0, 1.0},
                             {1 - 1.0 / 3, 0.0, 1 - 1.0 / 3, 1.0},
                             {1.0, 1 - 1.0 / 3, 0.0, 1.0},
                             {1.0, 1.0, 1.0, 0.0}},  // two empty sets are the same set
                            torch::kFloat64);
  EXPECT_TRUE(torch::equal(d, want)) << d;
}

}  // namespace
}  // namespace pdiff::fidelity_test
