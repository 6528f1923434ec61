// Tests of the 2-D projections: PCA keeps the geometry of planar data (both the covariance and
// the Gram route) with a fixed sign; t-SNE separates clusters, is deterministic per seed and
// copes with tiny inputs; bad inputs throw pdiff::Error.
#include <gtest/gtest.h>

#include <cstdio>

#include "core/error.h"
#include "core/progress.h"
#include "eval/projection.h"

namespace pdiff::projection_test {
namespace {

// n points on a random 2-D plane through a random offset in `dim` dimensions; also returns the
// in-plane coordinates.
torch::Tensor points_on_plane(int64_t n, int64_t dim, uint64_t seed, torch::Tensor* coords = nullptr) {
  torch::manual_seed(seed);
  torch::Tensor basis = std::get<0>(torch::linalg_qr(torch::randn({dim, 2}, torch::kFloat64)));
  torch::Tensor a = torch::randn({n, 2}, torch::kFloat64) * torch::tensor({3.0, 1.0}, torch::kFloat64);
  if (coords) *coords = a;
  torch::Tensor offset = torch::randn({1, dim}, torch::kFloat64) * 5.0;
  return (torch::mm(a, basis.t()) + offset).to(torch::kFloat32);
}

double max_distance_error(const torch::Tensor& a, const torch::Tensor& b) {
  torch::Tensor da = torch::cdist(a.to(torch::kFloat64), a.to(torch::kFloat64));
  torch::Tensor db = torch::cdist(b.to(torch::kFloat64), b.to(torch::kFloat64));
  return (da - db).abs().max().item<double>();
}

// Three well-separated Gaussian clusters of `per` points each in `dim` dimensions.
torch::Tensor three_clusters(int64_t per, int64_t dim, torch::Tensor* labels) {
  torch::manual_seed(7);
  torch::Tensor centres = torch::randn({3, dim}) * 4.0;  // centre distances ~ 4 * sqrt(2 dim)
  std::vector<torch::Tensor> parts;
  std::vector<int64_t> lab;
  for (int64_t c = 0; c < 3; ++c) {
    parts.push_back(centres[c].unsqueeze(0) + torch::randn({per, dim}));
    for (int64_t i = 0; i < per; ++i) lab.push_back(c);
  }
  *labels = torch::tensor(lab);
  return torch::cat(parts);
}

// Fraction of points whose nearest other point in y has the same label.
double nn_agreement(const torch::Tensor& y, const torch::Tensor& labels) {
  torch::Tensor d = torch::cdist(y, y);
  d.fill_diagonal_(std::numeric_limits<float>::infinity());
  torch::Tensor nn = d.argmin(1);
  return (labels.index_select(0, nn) == labels).to(torch::kFloat64).mean().item<double>();
}

TEST(ProjectionPca, PlaneInTenDimensionsKeepsDistances) {
  torch::Tensor x = points_on_plane(50, 10, 1);  // N > D: covariance route
  torch::Tensor y = pca_2d(x);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{50, 2}));
  EXPECT_EQ(y.scalar_type(), torch::kFloat32);
  EXPECT_LT(max_distance_error(x, y), 1e-4);
  // Centred, and the first component carries the most variance.
  EXPECT_LT(y.mean(0).abs().max().item<double>(), 1e-4);
  EXPECT_GT(y.select(1, 0).var().item<double>(), y.select(1, 1).var().item<double>());
}

TEST(ProjectionPca, GramRouteWhenFewerPointsThanDimensions) {
  torch::Tensor x = points_on_plane(6, 10, 2);  // N < D: Gram route
  torch::Tensor y = pca_2d(x);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{6, 2}));
  EXPECT_LT(max_distance_error(x, y), 1e-4);
  // Both routes give the same answer (same signs too) on the same data.
  torch::Tensor x_many = points_on_plane(40, 10, 3);
  torch::Tensor y_cov = pca_2d(x_many);
  torch::Tensor y_gram = pca_2d(torch::cat({x_many, torch::zeros({40, 60})}, 1));  // D = 70 > N
  EXPECT_LT((y_cov - y_gram).abs().max().item<double>(), 1e-4);
}

TEST(ProjectionPca, SignIsDeterministic) {
  // The dominant direction is +e0: the first component must increase with x[:, 0].
  torch::manual_seed(4);
  torch::Tensor x = torch::randn({100, 5}) * torch::tensor({10.f, 1.f, 1.f, 1.f, 1.f});
  torch::Tensor y = pca_2d(x);
  double corr = torch::corrcoef(torch::stack({y.select(1, 0), x.select(1, 0)}))[0][1].item<double>();
  EXPECT_GT(corr, 0.99);
  EXPECT_TRUE(torch::equal(pca_2d(x), y));
}

TEST(ProjectionPca, DegenerateInputs) {
  EXPECT_TRUE(torch::equal(pca_2d(torch::ones({1, 4})), torch::zeros({1, 2})));
  // Collinear points: the second column is zero, the first keeps the distances.
  torch::Tensor t = torch::linspace(0, 1, 7).unsqueeze(1);
  torch::Tensor x = torch::cat({t, 2 * t, -t}, 1);
  torch::Tensor y = pca_2d(x);
  EXPECT_LT(y.select(1, 1).abs().max().item<double>(), 1e-6);
  EXPECT_LT(max_distance_error(x, y), 1e-5);
  // One dimension: the second column is zero.
  EXPECT_LT(pca_2d(t).select(1, 1).abs().max().item<double>(), 1e-12);
  EXPECT_THROW(pca_2d(torch::ones({5})), Error);
  EXPECT_THROW(pca_2d(torch::ones({3, 3}, torch::kLong)), Error);
  EXPECT_THROW(pca_2d(torch::full({3, 3}, NAN)), Error);
}

TEST(ProjectionTsne, SeparatesThreeClusters) {
  torch::Tensor labels;
  torch::Tensor x = three_clusters(40, 50, &labels);
  Stopwatch sw;
  torch::Tensor y = tsne_2d(x, 30, 750, 0);
  std::printf("t-SNE of %lld x %lld: %.2f s\n", static_cast<long long>(x.size(0)),
              static_cast<long long>(x.size(1)), sw.seconds());
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{120, 2}));
  EXPECT_EQ(y.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::isfinite(y).all().item<bool>());
  EXPECT_GT(nn_agreement(y, labels), 0.95);
  // Clusters are far apart relative to their spread: mean between-centroid distance well above
  // the mean distance of a point to its own centroid.
  double within = 0, between = 0;
  std::vector<torch::Tensor> c;
  for (int64_t k = 0; k < 3; ++k) {
    torch::Tensor yk = y.index({labels == k});
    c.push_back(yk.mean(0));
    within += (yk - c.back()).norm(2, 1).mean().item<double>() / 3;
  }
  for (int a = 0; a < 3; ++a)
    for (int b = a + 1; b < 3; ++b) between += (c[a] - c[b]).norm().item<double>() / 3;
  EXPECT_GT(between, 2 * within);
}

TEST(ProjectionTsne, DeterministicForFixedSeed) {
  torch::Tensor labels;
  torch::Tensor x = three_clusters(20, 30, &labels);
  torch::Tensor a = tsne_2d(x, 10, 300, 5);
  torch::Tensor b = tsne_2d(x, 10, 300, 5);
  EXPECT_TRUE(torch::equal(a, b));
  torch::Tensor c = tsne_2d(x, 10, 300, 6);
  EXPECT_FALSE(torch::equal(a, c));
}

TEST(ProjectionTsne, SmallAndDegenerateInputs) {
  // Tiny N: perplexity is clamped, the result is finite.
  torch::manual_seed(0);
  torch::Tensor y = tsne_2d(torch::randn({5, 8}), 30, 200, 1);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{5, 2}));
  EXPECT_TRUE(torch::isfinite(y).all().item<bool>());
  // Duplicate points and a constant set do not produce NaN.
  EXPECT_TRUE(torch::isfinite(tsne_2d(torch::ones({10, 3}), 30, 100, 0)).all().item<bool>());
  torch::Tensor dup = torch::cat({torch::zeros({5, 3}), torch::ones({5, 3})});
  EXPECT_TRUE(torch::isfinite(tsne_2d(dup, 3, 100, 0)).all().item<bool>());
  EXPECT_EQ(tsne_2d(torch::ones({1, 3})).sizes(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(tsne_2d(torch::ones({0, 3})).sizes(), (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(tsne_2d(torch::randn({4, 3}), 30, 0).sizes(), (std::vector<int64_t>{4, 2}));
  EXPECT_THROW(tsne_2d(torch::ones({4})), Error);
  EXPECT_THROW(tsne_2d(torch::ones({4, 3}), -1), Error);
  EXPECT_THROW(tsne_2d(torch::ones({4, 3}), 30, -5), Error);
}

TEST(ProjectionGram, GroupsNeverConcatenatedGiveTheSameProjections) {
  // Three groups of points in 50 dimensions whose coordinates have very different scales.
  torch::manual_seed(3);
  auto scales = torch::logspace(-3, 2, 50, 10, torch::kFloat64).to(torch::kFloat32);
  std::vector<torch::Tensor> groups = {torch::randn({30, 50}) * scales, torch::randn({5, 50}) * scales + 1,
                                       torch::randn({12, 50}) * scales * 2};
  auto all = torch::cat(groups).to(torch::kFloat64);
  all = (all - all.mean(0)) / all.std(0).clamp_min(1e-12);  // what the report projected before
  const torch::Tensor gram = standardised_gram(groups);
  EXPECT_TRUE(torch::allclose(gram, torch::mm(all, all.t()), 1e-9, 1e-9));
  // Distances from the Gram matrix are the points' distances.
  auto direct = torch::cdist(all, all).pow(2);
  EXPECT_LT((squared_distances_of_gram(gram) - direct).abs().max().item<double>(), 1e-8);
  // PCA: the same scores as pca_2d of the points, up to each component's sign.
  auto from_points = pca_2d(all), from_gram = pca_2d_of_gram(gram);
  for (int64_t j = 0; j < 2; ++j) {
    auto a = from_points.select(1, j), b = from_gram.select(1, j);
    const double same = (a - b).abs().max().item<double>(), flipped = (a + b).abs().max().item<double>();
    EXPECT_LT(std::min(same, flipped), 1e-3) << "component " << j;
    EXPECT_GT(b[b.abs().argmax().item<int64_t>()].item<float>(), 0) << "largest score positive";
  }
  // Chunks of columns: a group wider than one chunk gives the same Gram as in one go.
  std::vector<torch::Tensor> wide = {torch::randn({3, 3000000})};
  auto w = wide[0].to(torch::kFloat64);
  w = (w - w.mean(0)) / w.std(0).clamp_min(1e-12);
  EXPECT_TRUE(torch::allclose(standardised_gram(wide), torch::mm(w, w.t()), 1e-9, 1e-6));
}

}  // namespace
}  // namespace pdiff::projection_test
