// Tests of the baseline groups on small constructed zoos whose answers are known: the
// ensemble is the mean, average16 the mean of 16 distinct originals, noise_raw_X and
// noise_std_X add noise of std X per coordinate in raw and standardised units, the Gaussian
// fit has the originals' per-coordinate mean and std and independent coordinates, and every
// draw is fixed by the generator's seed.
#include "eval/baselines.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <set>

#include "models/classifier.h"
#include "zoo/batch_schedule.h"
#include "zoo/layout.h"

namespace pdiff::baselines_test {
namespace {

// Index of the nearest original (L2) of each row of `models`.
torch::Tensor nearest(const torch::Tensor& models, const torch::Tensor& originals) {
  return torch::cdist(models.to(torch::kFloat64), originals.to(torch::kFloat64)).argmin(1);
}

int64_t distinct(const torch::Tensor& idx) {
  std::set<int64_t> s;
  for (int64_t i = 0; i < idx.size(0); ++i) s.insert(idx[i].item<int64_t>());
  return static_cast<int64_t>(s.size());
}

TEST(Baselines, WeightAverageIsTheMeanOfAllOriginals) {
  auto originals = torch::randn({7, 5}, torch::kFloat64);
  auto sum = torch::zeros({5}, torch::kFloat64);
  for (int64_t i = 0; i < 7; ++i) sum += originals[i];
  auto avg = weight_average(originals);
  ASSERT_EQ(avg.sizes(), (std::vector<int64_t>{1, 5}));
  EXPECT_TRUE(torch::allclose(avg[0], sum / 7.0, 1e-12, 1e-12));
}

TEST(Baselines, Average16IsTheMeanOf16DistinctRandomOriginals) {
  // Original i is the i-th unit vector: a mean of 16 distinct originals has exactly 16
  // entries of 1/16 and zeros elsewhere; a repeated original would show as 2/16.
  const int64_t k = 40, n = 30;
  auto originals = torch::eye(k);
  auto gen = make_generator(1);
  auto avg = average_of_random(originals, 16, n, gen);
  ASSERT_EQ(avg.sizes(), (std::vector<int64_t>{n, k}));
  std::set<std::vector<int64_t>> subsets;
  auto used = torch::zeros({k}, torch::kBool);
  for (int64_t i = 0; i < n; ++i) {
    auto row = avg[i];
    auto chosen = row.gt(0);
    ASSERT_EQ(chosen.sum().item<int64_t>(), 16) << "row " << i;
    EXPECT_TRUE(torch::allclose(row.masked_select(chosen), torch::full({16}, 1.0f / 16), 0, 1e-7)) << "row " << i;
    auto idx = chosen.nonzero().flatten();
    subsets.insert(std::vector<int64_t>(idx.data_ptr<int64_t>(), idx.data_ptr<int64_t>() + idx.numel()));
    used |= chosen;
  }
  EXPECT_GT(subsets.size(), 25u) << "the same originals every time";
  EXPECT_TRUE(used.all().item<bool>()) << "some originals are never picked";
  // More than the zoo holds: the mean of all of them.
  auto all = average_of_random(torch::eye(10), 16, 3, gen);
  EXPECT_TRUE(torch::allclose(all, torch::full({3, 10}, 0.1f), 0, 1e-7));
}

TEST(Baselines, NoiseRawAddsTheStatedStdToRandomOriginals) {
  // Columns of very different scales: raw noise is the same in each.
  const int64_t k = 20, d = 768, n = 60;
  auto scale = torch::tensor({0.01, 0.1, 1.0, 10.0}).repeat_interleave(d / 4).to(torch::kFloat32);
  auto originals = torch::randn({k, d}) * scale + 1.0;
  auto gen = make_generator(2);
  auto noisy = noise_raw(originals, 0.06, n, gen);
  ASSERT_EQ(noisy.sizes(), (std::vector<int64_t>{n, d}));
  // The nearest original is the one picked: originals differ by ~scale*1.4, the noise is 0.06
  // per coordinate, and the 0.01 and 0.1 columns cannot outweigh the others.
  auto idx = nearest(noisy, originals);
  EXPECT_GE(distinct(idx), 10) << "random originals are picked";
  auto residual = (noisy - originals.index_select(0, idx)).to(torch::kFloat64);
  for (int64_t q = 0; q < 4; ++q) {
    auto part = residual.slice(1, q * d / 4, (q + 1) * d / 4);
    EXPECT_NEAR(part.std().item<double>(), 0.06, 0.06 * 0.03) << "columns of scale " << scale[q * d / 4].item<float>();
    EXPECT_NEAR(part.mean().item<double>(), 0.0, 0.002);
  }
}

ParamLayout convnet4_last_norms() {
  ClassifierSpec spec;
  spec.arch = "convnet4";
  Classifier m = make_classifier(spec);
  return ParamLayout::of(m, select_parameters(m, "last_norm:2"));
}

TEST(Baselines, NoiseStdAddsTheStatedStdInStandardisedUnits) {
  // Each tensor of the layout gets its own scale, far from 1; the standardised noise is sigma
  // times that tensor's std over all originals (the std the standardizer divides by).
  ParamLayout layout = convnet4_last_norms();
  const auto& entries = layout.entries();
  ASSERT_EQ(entries.size(), 4u);
  const int64_t k = 20, n = 100;
  const double scales[] = {0.1, 0.3, 3.0, 10.0}, sigma = 0.05;
  auto originals = torch::empty({k, layout.dim()});
  for (size_t t = 0; t < entries.size(); ++t)
    originals.slice(1, entries[t].offset, entries[t].offset + entries[t].numel)
        .copy_(torch::randn({k, entries[t].numel}) * scales[t] + 0.5 * t);
  Standardizer s(originals, layout, 1);
  auto gen = make_generator(3);
  auto noisy = noise_standardised(originals, s, sigma, n, gen);
  ASSERT_EQ(noisy.sizes(), (std::vector<int64_t>{n, layout.dim()}));
  auto idx = nearest(noisy, originals);
  EXPECT_GE(distinct(idx), 10) << "random originals are picked";
  auto residual = (noisy - originals.index_select(0, idx)).to(torch::kFloat64);
  for (const auto& e : entries) {
    const double tensor_std = originals.slice(1, e.offset, e.offset + e.numel).to(torch::kFloat64).std().item<double>();
    auto part = residual.slice(1, e.offset, e.offset + e.numel) / tensor_std;
    EXPECT_NEAR(part.std().item<double>(), sigma, sigma * 0.04) << e.name << " (tensor std " << tensor_std << ")";
    EXPECT_NEAR(part.mean().item<double>(), 0.0, sigma * 0.04) << e.name;
  }
}

TEST(Baselines, GaussianFitMatchesPerCoordinateMeanAndStdWithIndependentCoordinates) {
  // Columns 0 and 1 are equal in every original (correlation 1); a fit of independent
  // per-coordinate Gaussians draws them uncorrelated.
  const int64_t k = 30, n = 20000;
  auto shared = torch::randn({k, 1}, torch::kFloat64);
  auto originals = torch::cat({5.0 + 2.0 * shared, 5.0 + 2.0 * shared, -3.0 + 0.1 * torch::randn({k, 1}, torch::kFloat64),
                               0.01 * torch::randn({k, 3}, torch::kFloat64)},
                              1)
                       .to(torch::kFloat32);
  auto gen = make_generator(4);
  auto draws = gaussian_fit(originals, n, gen).to(torch::kFloat64);
  ASSERT_EQ(draws.sizes(), (std::vector<int64_t>{n, 6}));
  auto want_mean = originals.to(torch::kFloat64).mean(0), want_std = originals.to(torch::kFloat64).std(0);
  auto got_mean = draws.mean(0), got_std = draws.std(0);
  for (int64_t j = 0; j < 6; ++j) {
    const double sd = want_std[j].item<double>();
    EXPECT_NEAR(got_mean[j].item<double>(), want_mean[j].item<double>(), 4 * sd / std::sqrt(double(n))) << "column " << j;
    EXPECT_NEAR(got_std[j].item<double>(), sd, 0.03 * sd) << "column " << j;
  }
  auto c = draws.slice(1, 0, 2) - got_mean.slice(0, 0, 2);
  const double corr = (c.select(1, 0) * c.select(1, 1)).mean().item<double>() / (got_std[0] * got_std[1]).item<double>();
  EXPECT_LT(std::abs(corr), 0.05) << "coordinates are not drawn independently";
  // One original: no spread, every draw is that original.
  auto one = gaussian_fit(originals.slice(0, 0, 1), 4, gen);
  EXPECT_TRUE(torch::equal(one, originals.slice(0, 0, 1).expand({4, 6})));
}

TEST(Baselines, TheSeedFixesEveryDraw) {
  ParamLayout layout = convnet4_last_norms();
  auto originals = torch::randn({12, layout.dim()});
  Standardizer s(originals, layout, 1);
  using Draw = std::function<torch::Tensor(torch::Generator&)>;
  const std::vector<std::pair<std::string, Draw>> draws = {
      {"noise_standardised", [&](torch::Generator& g) { return noise_standardised(originals, s, 0.05, 5, g); }},
      {"noise_raw", [&](torch::Generator& g) { return noise_raw(originals, 0.06, 5, g); }},
      {"average_of_random", [&](torch::Generator& g) { return average_of_random(originals, 4, 5, g); }},
      {"gaussian_fit", [&](torch::Generator& g) { return gaussian_fit(originals, 5, g); }}};
  for (const auto& [name, draw] : draws) {
    auto g1 = make_generator(7), g1_again = make_generator(7), g2 = make_generator(8);
    auto a = draw(g1);
    EXPECT_TRUE(torch::equal(a, draw(g1_again))) << name << ": same seed, other models";
    EXPECT_FALSE(torch::equal(a, draw(g2))) << name << ": seed ignored";
    EXPECT_FALSE(torch::equal(a, draw(g1))) << name << ": the generator's state is not advanced";
  }
}

}  // namespace
}  // namespace pdiff::baselines_test
