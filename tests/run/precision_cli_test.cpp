// precision=bf16 end to end on the CPU (autocast to bfloat16 on the CPU: the same code path as
// on a GPU), and a precision change redoes the stages it affects.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "io/file_io.h"
#include "test_util.h"

namespace pdiff::precision_cli_test {
namespace {

TEST(PrecisionCli, Bf16TrainsEveryStageAndIsRecorded) {
  const std::string dir = test::temp_dir("bf16");
  // bf16 convolutions are emulated on the CPU (~30x fp32's time): fewer, smaller batches.
  const std::string small = test::tiny_pipeline(dir) + " data.train_limit=320 base.batch=32 zoo.batch=32";
  const std::string log = test::pdiff_ok("run precision=bf16" + small);
  EXPECT_CONTAINS(log, "training in bf16");
  const auto r = nlohmann::json::parse(read_text_file(dir + "/report.json"));
  EXPECT_EQ(r["training_precision"], "bf16");
  EXPECT_EQ(r["eval_device"], "cpu");
  // Far above chance (10 %); this tiny run reaches ~39 % (originals) and ~38 % (generated) in
  // fp32 and in bf16 alike.
  EXPECT_GT(double(r["groups"]["original"]["acc"]["mean"]), 20.0);
  EXPECT_GT(double(r["groups"]["generated"]["acc"]["mean"]), 20.0);
  EXPECT_CONTAINS(read_text_file(dir + "/report.md"), "Training in bf16; evaluation in fp32 on cpu");
  // Another precision is another run: every stage is redone, none skipped.
  const std::string again = test::pdiff_ok("run precision=fp32" + small);
  EXPECT_CONTAINS(again, "== collect: running");
  EXPECT_EQ(nlohmann::json::parse(read_text_file(dir + "/report.json"))["training_precision"], "fp32");
}

}  // namespace
}  // namespace pdiff::precision_cli_test
