#include "core/runtime.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include "test_util.h"

namespace pdiff {
namespace {

// Sets an environment variable for one scope and puts the old value back (scripts/test.sh
// exports PDIFF_THREADS to the whole suite).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    value ? setenv(name, value, 1) : unsetenv(name);
  }
  ~ScopedEnv() { old_.empty() ? unsetenv(name_) : setenv(name_, old_.c_str(), 1); }

 private:
  const char* name_;
  std::string old_;
};

TEST(Runtime, ThreadsFromConfigAndCpuOnly) {
  ScopedEnv no_override("PDIFF_THREADS", nullptr);
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

TEST(Runtime, ThreadsVariableOverridesTheKey) {
  Config cfg;
  cfg.set("threads", "2", "test");
  {
    ScopedEnv one("PDIFF_THREADS", "1");
    apply_threads(cfg);
    EXPECT_EQ(torch::get_num_threads(), 1);
  }
  {
    ScopedEnv bad("PDIFF_THREADS", "two");
    EXPECT_CONTAINS(test::error_of([&] { apply_threads(cfg); }), "PDIFF_THREADS = 'two': use a thread count");
  }
  ScopedEnv none("PDIFF_THREADS", nullptr);
  apply_threads(cfg);
  EXPECT_EQ(torch::get_num_threads(), 2);
}

// init_runtime() in the test main re-executes the binary with OMP_WAIT_POLICY=PASSIVE unless
// the user chose a policy. The policy this process started with is unknown here, so the test
// runs itself again in children with a known environment; in a child, PDIFF_TEST_WANT_POLICY
// holds the policy the child must have ended up with.
TEST(Runtime, OpenMpWaitsPassivelyUnlessTheUserChose) {
  if (const char* want = std::getenv("PDIFF_TEST_WANT_POLICY")) {
    const char* got = std::getenv("OMP_WAIT_POLICY");
    ASSERT_NE(got, nullptr);
    EXPECT_STREQ(got, want);
    return;
  }
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  auto child = [&](const std::string& env) {
    std::string out;
    int rc = test::run_command("env " + env + " '" + self + "' --gtest_filter=Runtime.OpenMpWaitsPassivelyUnlessTheUserChose", &out);
    return std::make_pair(rc, out);
  };
  auto unset = child("-u OMP_WAIT_POLICY PDIFF_TEST_WANT_POLICY=PASSIVE");
  EXPECT_EQ(unset.first, 0) << "no policy given: expected PASSIVE\n" << unset.second;
  auto chosen = child("OMP_WAIT_POLICY=active PDIFF_TEST_WANT_POLICY=active");
  EXPECT_EQ(chosen.first, 0) << "the user's policy must be kept\n" << chosen.second;
  // The child check can fail: a wrong expectation is reported as a failure.
  auto wrong = child("-u OMP_WAIT_POLICY PDIFF_TEST_WANT_POLICY=ACTIVE");
  EXPECT_NE(wrong.first, 0) << wrong.second;
}

}  // namespace
}  // namespace pdiff
