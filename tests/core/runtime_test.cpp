#include "core/runtime.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "core/error.h"
#include "test_util.h"

namespace pdiff::runtime_test {
namespace {

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
    // Without CTest's shard variables: a shard of a one-test filter can be empty (and pass).
    int rc = test::run_command("env -u GTEST_TOTAL_SHARDS -u GTEST_SHARD_INDEX " + env + " '" + self +
                                   "' --gtest_filter=Runtime.OpenMpWaitsPassivelyUnlessTheUserChose",
                               &out);
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
}  // namespace pdiff::runtime_test
