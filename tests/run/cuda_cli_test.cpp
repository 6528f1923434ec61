// The pipeline on a CUDA device against the CPU (scripts/gpu_check.sh runs these on a GPU
// machine; on a machine without one they are skipped, saying why).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "gen/generate.h"
#include "io/file_io.h"
#include "test_util.h"
#include "zoo/zoo_file.h"

namespace pdiff::cuda_cli_test {
namespace {

// A little more data than the tiny run: the comparison of accuracies needs it.
std::string small(const std::string& dir) {
  return test::tiny_pipeline(dir) + " threads=4 data.train_limit=2000 data.test_limit=1000 ae.steps=100 ldm.steps=100";
}

TEST(CudaCli, SameResultsOnTheGpuAsOnTheCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device here (scripts/gpu_check.sh runs this on one)";
  const std::string cpu = test::temp_dir("cuda_vs_cpu"), gpu = test::temp_dir("cuda_run");
  test::pdiff_ok("run device=cpu" + small(cpu));
  test::pdiff_ok("run device=cuda" + small(gpu));
  const auto a = nlohmann::json::parse(read_text_file(cpu + "/report.json"));
  const auto g = nlohmann::json::parse(read_text_file(gpu + "/report.json"));
  EXPECT_EQ(g["eval_device"], "cuda:0");
  // Trained on another device the runs differ in rounding only.
  for (const char* group : {"original", "generated"})
    EXPECT_NEAR(double(g["groups"][group]["acc"]["mean"]), double(a["groups"][group]["acc"]["mean"]), 3.0) << group;
  // The same weights evaluated on both devices: the CPU run's files, evaluated again on the GPU.
  const std::string again = test::temp_dir("cuda_again");
  ASSERT_EQ(test::run_command("cp -r " + cpu + "/. " + again + " && rm " + again + "/baselines.pt " + again +
                              "/report.json"), 0);
  test::pdiff_ok("eval device=cuda" + small(again));
  const auto e = nlohmann::json::parse(read_text_file(again + "/report.json"));
  for (const auto& [name, group] : a["groups"].items())
    EXPECT_NEAR(double(e["groups"][name]["acc"]["mean"]), double(group["acc"]["mean"]), 0.11) << name;
  // Generating from the CPU's generator on the GPU: the same models up to rounding.
  const std::string regen = test::temp_dir("cuda_regen");
  ASSERT_EQ(test::run_command("cp -r " + cpu + "/. " + regen + " && rm " + regen + "/generated.pt"), 0);
  test::pdiff_ok("generate device=cuda" + small(regen));
  EXPECT_LT(test::max_relative_difference(load_generated(regen + "/generated.pt").params,
                                          load_generated(cpu + "/generated.pt").params),
            1e-3);
}

TEST(CudaCli, Bf16TrainingRunsOnTheGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device here (scripts/gpu_check.sh runs this on one)";
  const std::string dir = test::temp_dir("cuda_bf16");
  test::pdiff_ok("run device=cuda precision=bf16" + small(dir));
  const auto r = nlohmann::json::parse(read_text_file(dir + "/report.json"));
  EXPECT_EQ(r["training_precision"], "bf16");
  EXPECT_GT(double(r["groups"]["generated"]["acc"]["mean"]), 30.0);
}

}  // namespace
}  // namespace pdiff::cuda_cli_test
