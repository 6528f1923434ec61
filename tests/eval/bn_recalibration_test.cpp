#include "eval/bn_recalibration.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace pdiff::bn_recalibration_test {
namespace {

ClassifierSpec spec_of(const std::string& arch) {
  ClassifierSpec spec;
  spec.arch = arch;
  return spec;
}

TEST(BnRecalibration, RefusesZoosWithoutRunningStatistics) {
  torch::manual_seed(0);
  const DataSplits data = test::random_fashion_images();
  Classifier convnet = make_classifier(spec_of("convnet4")), mlp = make_classifier(spec_of("mlp"));
  const ParamLayout subset = ParamLayout::of(convnet, select_parameters(convnet, "auto"));
  const ParamLayout no_norm = ParamLayout::of(mlp, select_parameters(mlp, "all"));
  for (const auto& [model, layout, arch] : {std::tuple{convnet, subset, "convnet4"}, std::tuple{mlp, no_norm, "mlp"}}) {
    try {
      BnRecalibration(model, spec_of(arch), layout, data, 2, 0);
      ADD_FAILURE() << arch << ": expected a refusal";
    } catch (const Error& e) {
      EXPECT_CONTAINS(std::string(e.what()), "generate.recalibrate_bn = 2");
      EXPECT_CONTAINS(std::string(e.what()), "zoo.select=whole");
    }
  }
  EXPECT_FALSE(BnRecalibration(convnet, spec_of("convnet4"), subset, data, 0, 0).active());  // off: no check
}

TEST(BnRecalibration, MeasuresTheStatisticsAnewAndLeavesTheWeights) {
  torch::manual_seed(0);
  const DataSplits data = test::random_fashion_images();
  const ClassifierSpec spec = spec_of("convnet4");
  Classifier model = make_classifier(spec);
  const ParamLayout layout = ParamLayout::of(model, select_parameters(model, "whole"));
  const BnRecalibration recalibrate(model, spec, layout, data, 2, 0, 64);
  ASSERT_TRUE(recalibrate.active());
  torch::Tensor row = layout.flatten(model).detach().clone(), wrong = row.clone();
  for (const auto& e : layout.entries())
    if (e.name.find("running_") != std::string::npos) wrong.slice(0, e.offset, e.offset + e.numel).mul_(7).add_(3);
  const torch::Tensor rows = torch::stack({row, wrong}), out = recalibrate(rows);
  // Whatever statistics a row came with, the same ones come out; the weights stay.
  EXPECT_TRUE(torch::equal(out[0], out[1]));
  for (const auto& e : layout.entries()) {
    const auto slice = [&](const torch::Tensor& t) { return t.slice(0, e.offset, e.offset + e.numel); };
    if (e.name.find("running_") == std::string::npos) EXPECT_TRUE(torch::equal(slice(out[1]), slice(rows[1]))) << e.name;
  }
  // bn1 sees conv1's output, which no statistic changes: its mean and (unbiased) variance over
  // the 64 images, as the cumulative average of two batches that each hold all of them.
  torch::Tensor h;
  {
    torch::NoGradGuard ng;
    h = model->forward_stage(0, model->prepare_input(data.train.images)).to(torch::kFloat64);
  }
  for (const auto& e : layout.entries()) {
    if (e.name == "bn1.running_mean")
      EXPECT_LT(test::max_relative_difference(out[0].slice(0, e.offset, e.offset + e.numel).to(torch::kFloat64),
                                              h.mean({0, 2, 3})),
                1e-4);
    if (e.name == "bn1.running_var")
      EXPECT_LT(test::max_relative_difference(out[0].slice(0, e.offset, e.offset + e.numel).to(torch::kFloat64),
                                              h.permute({1, 0, 2, 3}).reshape({h.size(1), -1}).var(1, true)),
                1e-4);
  }
}

}  // namespace
}  // namespace pdiff::bn_recalibration_test
