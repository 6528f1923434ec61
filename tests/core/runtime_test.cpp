#include "core/runtime.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"

namespace pdiff {
namespace {

TEST(Runtime, ThreadsFromConfigAndCpuOnly) {
  Config cfg;
  cfg.set("threads", "1", "test");
  apply_threads(cfg);
  EXPECT_EQ(torch::get_num_threads(), 1);
  cfg.set("device", "cuda", "test");
  try {
    apply_threads(cfg);
    FAIL() << "device=cuda accepted by a CPU-only build";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("device = cuda"), std::string::npos) << e.what();
  }
}

TEST(Runtime, OpenMpWaitsPassively) {
  // init_runtime() in the test main re-executed the binary with this policy.
  ASSERT_NE(std::getenv("OMP_WAIT_POLICY"), nullptr);
}

}  // namespace
}  // namespace pdiff
