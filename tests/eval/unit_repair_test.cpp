#include "eval/unit_repair.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace pdiff::unit_repair_test {
namespace {

ClassifierSpec mlp_spec() {
  ClassifierSpec spec;
  spec.arch = "mlp";
  spec.mlp_hidden = {32, 16};
  return spec;
}

TEST(UnitRepair, RefusesOtherArchitecturesAndPartialSelections) {
  torch::manual_seed(0);
  const DataSplits data = test::random_fashion_images();
  ClassifierSpec convnet_spec;
  convnet_spec.arch = "convnet4";
  const Classifier convnet = make_classifier(convnet_spec), mlp = make_classifier(mlp_spec());
  const ParamLayout convnet_all = ParamLayout::of(convnet, select_parameters(convnet, "whole"));
  const ParamLayout last = ParamLayout::of(mlp, select_parameters(mlp, "fc3.*"));
  const torch::Tensor none = torch::empty({0, 0});
  EXPECT_CONTAINS(test::error_of([&] { UnitRepair(convnet, convnet_spec, convnet_all, data, none, 2, 0); }),
                  "not convnet4: for networks with BatchNorm use generate.recalibrate_bn");
  EXPECT_CONTAINS(test::error_of([&] { UnitRepair(mlp, mlp_spec(), last, data, none, 2, 0); }), "lack fc1.weight");
  EXPECT_FALSE(UnitRepair(convnet, convnet_spec, convnet_all, data, none, 0, 0).active());  // off: no check
}

TEST(UnitRepair, GivesEveryHiddenUnitTheOriginalsAverageStatistics) {
  torch::manual_seed(0);
  const DataSplits data = test::random_fashion_images();
  const ClassifierSpec spec = mlp_spec();
  const Classifier model = make_classifier(spec);
  const ParamLayout layout = ParamLayout::of(model, select_parameters(model, "all"));
  std::vector<torch::Tensor> rows;
  for (int k = 0; k < 3; ++k) rows.push_back(layout.flatten(make_classifier(spec)).detach().clone());
  const torch::Tensor originals = torch::stack(rows);
  const UnitRepair repair(model, spec, layout, data, originals, 2, 0, 64);
  ASSERT_TRUE(repair.active());
  // The originals' average: its units' spread collapsed, as an average's does.
  const torch::Tensor average = originals.mean(0, true), repaired = repair(average);
  std::vector<torch::Tensor> target = repair.statistics(originals[0]);
  for (int k = 1; k < 3; ++k)
    for (size_t i = 0; i < target.size(); ++i) target[i] = target[i] + repair.statistics(originals[k])[i];
  const std::vector<torch::Tensor> before = repair.statistics(average[0]), after = repair.statistics(repaired[0]);
  ASSERT_EQ(after.size(), 4u);  // fc1's and fc2's mean and standard deviation
  for (size_t i = 0; i < after.size(); ++i) {
    SCOPED_TRACE("statistic " + std::to_string(i));
    const torch::Tensor want = target[i] / 3.0;
    // fc1's pre-activation is linear in the weights: its mean is already the originals' average.
    if (i > 0) EXPECT_GT(test::max_relative_difference(before[i], want), 0.05);
    EXPECT_LT(test::max_relative_difference(after[i], want), 1e-4);
  }
  // The last layer is not touched; a network that already has the target statistics keeps its weights.
  for (const auto& e : layout.entries())
    if (e.name.rfind("fc3.", 0) == 0)
      EXPECT_TRUE(torch::equal(repaired[0].slice(0, e.offset, e.offset + e.numel),
                               average[0].slice(0, e.offset, e.offset + e.numel)));
  const UnitRepair own(model, spec, layout, data, originals.slice(0, 0, 1), 2, 0, 64);
  EXPECT_LT(test::max_relative_difference(own(originals.slice(0, 0, 1))[0], originals[0]), 1e-4);
}

}  // namespace
}  // namespace pdiff::unit_repair_test
