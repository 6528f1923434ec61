#include "gen/standardizer.h"

#include <gtest/gtest.h>

#include "models/classifier.h"

namespace pdiff::standardizer_test {
namespace {

ParamLayout convnet_bn_layout() {
  ClassifierSpec spec;
  spec.arch = "convnet4";
  return ParamLayout::of(make_classifier(spec), select_parameters(make_classifier(spec), "last_norm:2"));
}

TEST(Standardizer, RoundTripIsExactAndPads) {
  auto layout = convnet_bn_layout();
  ASSERT_EQ(layout.dim(), 768);
  auto params = torch::randn({20, 768}) * 0.3 + 1.0;
  Standardizer s(params, layout, 32);
  EXPECT_EQ(s.padded_dim(), 768);
  auto x = s.apply(params);
  EXPECT_TRUE(torch::allclose(s.invert(x), params, 1e-5, 1e-6));
  Standardizer s2(params.slice(1, 0, 768), layout, 100);
  EXPECT_EQ(s2.padded_dim(), 800);
  auto x2 = s2.apply(params);
  EXPECT_EQ(x2.size(1), 800);
  EXPECT_EQ(x2.slice(1, 768).abs().sum().item<double>(), 0.0);  // zero padding
  EXPECT_TRUE(torch::allclose(s2.invert(x2), params, 1e-5, 1e-6));
}

TEST(Standardizer, EachTensorGetsZeroMeanUnitStd) {
  auto layout = convnet_bn_layout();
  auto params = torch::randn({50, 768});
  for (const auto& e : layout.entries())  // very different scales per tensor
    params.slice(1, e.offset, e.offset + e.numel).mul_(e.offset + 1.0).add_(e.offset * 0.1);
  Standardizer s(params, layout, 1);
  auto x = s.apply(params);
  for (const auto& e : layout.entries()) {
    auto block = x.slice(1, e.offset, e.offset + e.numel);
    EXPECT_NEAR(block.mean().item<double>(), 0.0, 1e-4) << e.name;
    EXPECT_NEAR(block.std().item<double>(), 1.0, 1e-3) << e.name;
  }
}

// The token autoencoder's centring: every entry's own mean over the checkpoints is kept
// exactly, and each tensor's deviations from it have unit RMS.
TEST(Standardizer, CentringPerCoordinateKeepsTheMeanCheckpoint) {
  auto layout = convnet_bn_layout();
  auto base = torch::randn({1, 768}) * 3;
  auto params = base + 0.01 * torch::randn({30, 768});
  params.slice(1, 0, 100).add_(0.05 * torch::randn({30, 100}));  // one part varies more
  Standardizer s(params, layout, 1, /*centre_per_coordinate=*/true);
  auto x = s.apply(params);
  EXPECT_LT(x.mean(0).abs().max().item<double>(), 1e-4);
  for (const auto& e : layout.entries())
    EXPECT_NEAR(x.slice(1, e.offset, e.offset + e.numel).pow(2).mean().sqrt().item<double>(), 1.0, 1e-4) << e.name;
  EXPECT_TRUE(torch::allclose(s.invert(torch::zeros({1, 768})), params.mean(0, true), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(s.invert(x), params, 1e-5, 1e-5));
  // Per tensor instead, the checkpoints' shared values dominate: far from zero mean per entry.
  Standardizer per_tensor(params, layout, 1);
  EXPECT_GT(per_tensor.apply(params).mean(0).abs().max().item<double>(), 0.5);
}

TEST(Standardizer, SavesAndLoads) {
  auto layout = convnet_bn_layout();
  auto params = torch::randn({10, 768});
  Standardizer s(params, layout, 32);
  DictFile f;
  s.save(f, "std");
  Standardizer t = Standardizer::load(f, "std");
  EXPECT_TRUE(torch::equal(s.apply(params), t.apply(params)));
}

}  // namespace
}  // namespace pdiff::standardizer_test
