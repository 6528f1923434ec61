// Issue 9's whole check on real data (10 000 training images, the whole test set) (tests/python/own_model_flow.py): two PyTorch
// models pdiff does not know (LeNet-5 with BatchNorm; a CNN with GroupNorm and LayerNorm),
// scripted and trained in Python on a tensors dataset, with a zoo of checkpoints trained in
// Python (or collected by pdiff); pdiff imports, trains, generates and exports; Python
// re-evaluates the exported modules and every vector. Here the files pdiff wrote are checked
// again from C++: the quality gates from zoo.pt and generated.pt, the exported modules exist.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/file_io.h"
#include "gen/generate.h"
#include "test_util.h"
#include "zoo/zoo_file.h"

namespace pdiff {
namespace {

struct Flow {
  std::string model;
  bool collect;
  int epochs;  // of Python's base training: the GroupNorm CNN learns slowly
};

class OwnModelFlow : public ::testing::TestWithParam<Flow> {};

TEST_P(OwnModelFlow, PythonModelAndCheckpointsThroughPdiffAndBack) {
  const Flow flow = GetParam();
  const std::string work = test::temp_dir("own_flow_" + flow.model + (flow.collect ? "_collect" : "_import"));
  const std::string cmd = "/usr/bin/python3 " + test::source_dir() + "/tests/python/own_model_flow.py --pdiff " +
                          test::pdiff_binary() + " --work " + work + " --model " + flow.model +
                          (flow.collect ? " --collect" : "") +
                          " --train 10000 --test 10000 --epochs " + std::to_string(flow.epochs) +
                          " --k 30 --export 3 threads=2 generate.n=100 eval.baseline_n=10 eval.tsne=false";
  std::string out;
  const int rc = test::run_command("timeout 900 " + cmd, &out);
  ASSERT_EQ(rc, 0) << test::tail(out);
  EXPECT_CONTAINS(out, "own_model_flow: OK");

  const std::string run = work + "/run";
  const Zoo zoo = load_zoo(run + "/zoo.pt");
  const Generated gen = load_generated(run + "/generated.pt");
  EXPECT_EQ(zoo.arch, "torchscript");
  ASSERT_EQ(zoo.params.size(0), 30);
  ASSERT_EQ(gen.params.size(0), 100);
  const std::vector<std::string> expected =
      flow.model == "lenet_bn" ? std::vector<std::string>{"features.5.weight", "features.5.bias", "bn3.weight", "bn3.bias"}
                               : std::vector<std::string>{"gn2.weight", "gn2.bias", "ln.weight", "ln.bias"};
  EXPECT_EQ(zoo.layout.names(), expected);
  // The checkpoints differ: a zoo, not one model 30 times.
  EXPECT_GT((zoo.params[29] - zoo.params[0]).abs().max().item<double>(), 1e-3);
  if (!flow.collect) EXPECT_CONTAINS(read_text_file(work + "/pdiff.log"), "(imported from " + work + "/ckpts)");

  // The benchmark task's quality gates, recomputed here from the files.
  const torch::Tensor o = zoo.accuracy.to(torch::kFloat64), g = gen.accuracy.to(torch::kFloat64);
  EXPECT_GE(g.mean().item<double>(), o.mean().item<double>() - 0.1);
  EXPECT_GE(g.median().item<double>(), o.median().item<double>() - 0.1);
  EXPECT_GE(g.max().item<double>(), o.max().item<double>() - 0.2);
  EXPECT_GE(g.min().item<double>(), o.min().item<double>() - 1.0);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(file_exists(run + "/generated_" + std::to_string(i) + ".script.pt")) << i;
  // The driver's own record agrees with the files.
  const auto summary = nlohmann::json::parse(read_text_file(work + "/own_model_flow.json"));
  EXPECT_NEAR(summary["generated"]["mean"].get<double>(), g.mean().item<double>(), 1e-6);
  EXPECT_TRUE(summary["failures"].empty());
  if (!::testing::Test::HasFailure()) test::run_command("rm -rf '" + work + "'");
}

INSTANTIATE_TEST_SUITE_P(Flows, OwnModelFlow,
                         ::testing::Values(Flow{"lenet_bn", false, 2}, Flow{"lenet_gn", false, 15},
                                           Flow{"lenet_bn", true, 2}),
                         [](const auto& info) {
                           return info.param.model + (info.param.collect ? "_collected" : "_imported");
                         });

}  // namespace
}  // namespace pdiff
