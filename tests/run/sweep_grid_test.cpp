// The grid of `pdiff sweep`: which words sweep and which are fixed, canonical values, the order
// of the points, their directory names, and the errors for bad words.
#include <gtest/gtest.h>

#include "run/sweep_grid.h"
#include "test_util.h"

namespace pdiff::sweep_grid_test {
namespace {

using Words = std::vector<std::string>;

TEST(SweepGrid, CommasSweepScalarKeysAndStayInsideListAndTextValues) {
  SweepGrid g = parse_sweep_words({"ae.latent_noise=0.1,3e-1", "generate.eta=0;1", "ae.channels=8,16",
                                   "zoo.select=bn4.*,fc.bias", "generate.sampler=ddim,ddpm", "threads=1"});
  ASSERT_EQ(g.axes.size(), 3u);
  EXPECT_EQ(g.axes[0].key, "ae.latent_noise");
  EXPECT_EQ(g.axes[0].values, Words({"0.1", "0.3"}));  // canonical, as Config stores them
  EXPECT_EQ(g.axes[1].key, "generate.eta");
  EXPECT_EQ(g.axes[1].values, Words({"0", "1"}));  // ';' separates values for every key
  EXPECT_EQ(g.axes[2].values, Words({"ddim", "ddpm"}));
  // A list key's or a text key's commas are part of its one value: fixed overrides.
  EXPECT_EQ(g.fixed, Words({"ae.channels=8,16", "zoo.select=bn4.*,fc.bias", "threads=1"}));
}

TEST(SweepGrid, SemicolonsSweepListAndTextKeys) {
  SweepGrid g = parse_sweep_words({"ae.channels=8,16;16, 32", "zoo.select=bn4.*,fc.bias;last_norm:2"});
  ASSERT_EQ(g.axes.size(), 2u);
  EXPECT_EQ(g.axes[0].values, Words({"8,16", "16,32"}));
  EXPECT_EQ(g.axes[1].values, Words({"bn4.*,fc.bias", "last_norm:2"}));
  EXPECT_TRUE(g.fixed.empty());
}

TEST(SweepGrid, PointsVaryTheLastKeyFastestAndHaveDistinctNames) {
  auto points = sweep_points(parse_sweep_words({"ae.latent_noise=0.1,0.3", "zoo.select=bn4.*;bn3.*,bn4.*"}));
  ASSERT_EQ(points.size(), 4u);
  EXPECT_EQ(points[0].label(), "ae.latent_noise=0.1 zoo.select=bn4.*");
  EXPECT_EQ(points[1].label(), "ae.latent_noise=0.1 zoo.select=bn3.*,bn4.*");
  EXPECT_EQ(points[2].label(), "ae.latent_noise=0.3 zoo.select=bn4.*");
  EXPECT_EQ(points[1].overrides(), Words({"ae.latent_noise=0.1", "zoo.select=bn3.*,bn4.*"}));
  // Characters other than letters, digits and ._+- are escaped: no '/', '*' or ',' from a value.
  EXPECT_EQ(points[0].name, "ae.latent_noise=0.1,zoo.select=bn4.%2A");
  EXPECT_EQ(points[1].name, "ae.latent_noise=0.1,zoo.select=bn3.%2A%2Cbn4.%2A");
  EXPECT_EQ(point_name({{"data.file", "/a b/c"}}), "data.file=%2Fa%20b%2Fc");
  const std::string long_name = point_name({{"zoo.select", std::string(300, 'a')}});
  EXPECT_EQ(long_name.size(), 22u) << long_name;
  EXPECT_EQ(long_name.substr(0, 6), "point-");
  EXPECT_NE(long_name, point_name({{"zoo.select", std::string(301, 'a')}}));
}

TEST(SweepGrid, BadWordsSayWhatToWrite) {
  auto error = [](const Words& w) { return test::error_of([&] { parse_sweep_words(w); }); };
  EXPECT_CONTAINS(error({"ae.latent_noise"}), "'ae.latent_noise' is not KEY=VALUES");
  EXPECT_CONTAINS(error({"ae.latnt_noise=0.1,0.2"}), "unknown config key 'ae.latnt_noise'");
  EXPECT_CONTAINS(error({"ae.latnt_noise=0.1,0.2"}), "ae.latent_noise");  // the section's keys as a hint
  EXPECT_CONTAINS(error({"generate.eta=0,2"}), "generate.eta");
  EXPECT_CONTAINS(error({"generate.eta=0,2"}), "must be >= 0 and <= 1");
  EXPECT_CONTAINS(error({"generate.eta=0,,1"}), "has an empty value");
  EXPECT_CONTAINS(error({"ae.channels=8,16;"}), "has an empty value");
  EXPECT_CONTAINS(error({"generate.eta=0,0.0"}), "gives the value 0 twice");
  EXPECT_CONTAINS(error({"generate.eta=0,1", "generate.eta=0.5"}), "key 'generate.eta' is given twice");
  EXPECT_CONTAINS(error({"run_dir=a,b"}), "--out");
  EXPECT_CONTAINS(error({"threads=1"}), "nothing to sweep");
  EXPECT_CONTAINS(error({}), "nothing to sweep");
  EXPECT_CONTAINS(error({"ae.steps=10,x", "generate.eta=0,1"}), "'ae.steps=10,x'");
  EXPECT_CONTAINS(error({"zoo.k=abc", "generate.eta=0,1"}), "expected an integer");
}

}  // namespace
}  // namespace pdiff::sweep_grid_test
