// Issue 9's whole check on real data (5 000 or 10 000 training images, 2 000 test images)
// (tests/python/own_model_flow.py): two PyTorch models pdiff does not know (LeNet-5 with
// BatchNorm; a CNN with GroupNorm and LayerNorm), scripted and trained in Python on a tensors
// dataset, with a zoo of checkpoints trained in Python; pdiff imports, trains, generates and
// exports; Python
// re-evaluates the exported modules and every vector (exact: within 0.05 points). Here the
// files pdiff wrote are checked again from C++: the quality gates from zoo.pt and generated.pt,
// the exported modules exist.
//
// The quality gates depend on training noise, which moves with the host's floating-point sums
// and thread counts: they get the margins below, measured from the flows' spread over seeds and
// thread counts (docs/benchmarks.md, "Own-model flows: spread"). The benchmark task's tighter
// targets are reported, not asserted, by bench/own_model_quality.sh, which also runs the LeNet's
// third mode, a zoo collected by pdiff from the same Python preparation (the suite runs that
// path end to end in TorchScriptCli.StartsFromWeightsTrainedInPython, at tiny budgets). The
// report's barrier is left out here (it moves no accuracy the gates read; DocsCommandsCli runs
// it on a TorchScript LeNet).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "io/file_io.h"
#include "gen/generate.h"
#include "test_util.h"
#include "zoo/zoo_file.h"

namespace pdiff::own_model_flow_cli_test {
namespace {

struct Flow {
  std::string model;
  std::vector<std::string> modes;  // share one Python preparation (data, base training)
  int train;                       // training images
  int epochs;                      // of Python's base training: the GroupNorm CNN learns slowly
};

void PrintTo(const Flow& f, std::ostream* os) { *os << f.model << " (" << f.train << " images)"; }

// Points the generated models may fall below the originals' mean, median, best and min.
struct Margins {
  double mean, median, best, min;
};
// At least twice the largest shortfall seen over the runs at the suite's sizes (seeds 0-2 at one
// thread, seed 0 at two, on both sides; docs/benchmarks.md), on two hosts: the host of stop 26
// (mean -0.10, median -0.15, best -0.35, min -0.15 points) and an AMD EPYC host of stop 27,
// whose other floating-point sums moved the GroupNorm flow's seed 0 to -0.32, -0.35, -0.65, +0.15.
constexpr Margins kSuiteMargins{0.7, 0.7, 1.3, 1.0};

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

class OwnModelFlow : public ::testing::TestWithParam<Flow> {};

TEST_P(OwnModelFlow, PythonModelAndCheckpointsThroughPdiffAndBack) {
  const Flow flow = GetParam();
  const Margins m = kSuiteMargins;
  const std::string work = test::temp_dir("own_flow_" + flow.model);
  const std::string margins = std::to_string(m.mean) + "," + std::to_string(m.median) + "," +
                              std::to_string(m.best) + "," + std::to_string(m.min);
  const std::string cmd = test::python_script_command("own_model_flow.py", "--pdiff ") +
                          test::pdiff_binary() + " --work " + work + " --model " + flow.model +
                          " --modes " + join(flow.modes) + " --margins " + margins +
                          " --train " + std::to_string(flow.train) + " --test 2000 --epochs " +
                          std::to_string(flow.epochs) + " --k 30 --export 2 --check-generated 5 --check-originals 3" +
                          " generate.n=30 eval.baseline_n=2 eval.tsne=false eval.barrier_pairs=0";
  std::string out;
  const int rc = test::run_command("timeout 900 " + cmd, &out);
  ASSERT_EQ(rc, 0) << test::tail(out);
  EXPECT_CONTAINS(out, "own_model_flow: OK");

  for (const std::string& mode : flow.modes) {
    SCOPED_TRACE(mode);
    const std::string run = work + "/" + mode + "/run";
    const Zoo zoo = load_zoo(run + "/zoo.pt");
    const Generated gen = load_generated(run + "/generated.pt");
    EXPECT_EQ(zoo.arch, "torchscript");
    ASSERT_EQ(zoo.params.size(0), 30);
    ASSERT_EQ(gen.params.size(0), 30);
    const std::vector<std::string> expected =
        flow.model == "lenet_bn" ? std::vector<std::string>{"features.5.weight", "features.5.bias", "bn3.weight", "bn3.bias"}
                                 : std::vector<std::string>{"gn2.weight", "gn2.bias", "ln.weight", "ln.bias"};
    EXPECT_EQ(zoo.layout.names(), expected);
    // The checkpoints differ: a zoo, not one model 30 times.
    EXPECT_GT((zoo.params[29] - zoo.params[0]).abs().max().item<double>(), 1e-3);
    if (mode == "import")
      EXPECT_CONTAINS(read_text_file(work + "/import/pdiff.log"), "(imported from " + work + "/ckpts)");

    // The quality gates, recomputed here from the files with the suite's margins.
    const torch::Tensor o = zoo.accuracy.to(torch::kFloat64), g = gen.accuracy.to(torch::kFloat64);
    EXPECT_GE(g.mean().item<double>(), o.mean().item<double>() - m.mean);
    EXPECT_GE(g.median().item<double>(), o.median().item<double>() - m.median);
    EXPECT_GE(g.max().item<double>(), o.max().item<double>() - m.best);
    EXPECT_GE(g.min().item<double>(), o.min().item<double>() - m.min);
    for (int i = 0; i < 2; ++i) EXPECT_TRUE(file_exists(run + "/generated_" + std::to_string(i) + ".script.pt")) << i;
    // The driver's own record agrees with the files.
    const auto summary = nlohmann::json::parse(read_text_file(work + "/" + mode + "/own_model_flow.json"));
    EXPECT_NEAR(summary["generated"]["mean"].get<double>(), g.mean().item<double>(), 1e-6);
    EXPECT_TRUE(summary["failures"].empty());
    // Kept beside the build, one file per flow and mode, so that runs at other thread counts
    // can be compared (scripts/test.sh --threads 2 overwrites them: copy them first).
    const std::string kept = test::pdiff_binary().substr(0, test::pdiff_binary().rfind('/')) + "/flow_figures";
    test::run_command("mkdir -p '" + kept + "' && cp '" + work + "/" + mode + "/own_model_flow.json' '" + kept + "/" +
                      flow.model + "_" + mode + ".json'");
  }
  if (!::testing::Test::HasFailure()) test::run_command("rm -rf '" + work + "'");
}

INSTANTIATE_TEST_SUITE_P(Flows, OwnModelFlow,
                         ::testing::Values(Flow{"lenet_bn", {"import"}, 10000, 2},
                                           Flow{"lenet_gn", {"import"}, 5000, 15}),
                         [](const auto& info) { return info.param.model; });

}  // namespace
}  // namespace pdiff::own_model_flow_cli_test
