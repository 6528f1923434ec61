// One process per run directory, through the real binary: a second command on a directory in
// use is refused at once naming the holder's pid; a holder killed with SIGKILL blocks nothing.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "io/file_io.h"
#include "test_util.h"

namespace pdiff::lock_cli_test {
namespace {

const char* kFashion = "/usr/share/datasets/fashion-mnist";

std::vector<std::string> settings(const std::string& run_dir, int k) {
  return {"data.train_limit=1000", "data.test_limit=200", "base.epochs=1", "zoo.k=" + std::to_string(k),
          "threads=1", "run_dir=" + run_dir};
}

std::string words(const std::vector<std::string>& args) {
  std::string s;
  for (const auto& a : args) s += " '" + a + "'";
  return s;
}

int pdiff(const std::string& command, const std::vector<std::string>& args, std::string* out) {
  return test::run_command("timeout 300 '" + test::pdiff_binary() + "' " + command + words(args), out);
}

TEST(LockCli, ASecondProcessIsRefusedAndAKilledHolderBlocksNothing) {
  ASSERT_TRUE(file_exists(std::string(kFashion) + "/t10k-images-idx3-ubyte.gz")) << kFashion << " is missing";
  const std::string tmp = test::temp_dir("lock"), run = tmp + "/run", lock = run + "/.lock";
  // A long `pdiff run` (many checkpoints) holds the directory.
  const pid_t pid = test::spawn_pdiff("run", settings(run, 100000), tmp + "/first.log");
  ASSERT_GT(pid, 0);
  bool holding = false;
  int status = 0;
  for (auto t0 = std::chrono::steady_clock::now(); std::chrono::steady_clock::now() - t0 < std::chrono::seconds(120);) {
    // The pid is written once the lock is held.
    if (file_exists(lock) && read_text_file(lock) == std::to_string(pid) + "\n") {
      holding = true;
      break;
    }
    if (waitpid(pid, &status, WNOHANG) == pid) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::string log;
  test::run_command("cat '" + tmp + "/first.log'", &log);
  ASSERT_TRUE(holding) << "the first run never held " << lock << "\n" << log;

  // Every command that writes into the directory is refused at once, naming it and the pid.
  const std::string expect = run + ": run directory in use by another pdiff process (pid " + std::to_string(pid) + ",";
  for (const char* command : {"run", "collect", "train", "eval"}) {
    std::string out;
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(pdiff(command, settings(run, 5), &out), 1) << command << "\n" << out;
    EXPECT_CONTAINS(out, expect);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(60)) << command << " waited";
  }
  EXPECT_FALSE(file_exists(run + "/zoo.pt"));

  // Killed: the kernel drops the lock; the stale file with the dead pid blocks nothing.
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  EXPECT_TRUE(file_exists(lock));
  std::string out;
  ASSERT_EQ(pdiff("collect", settings(run, 5), &out), 0) << out;
  EXPECT_TRUE(file_exists(run + "/zoo.pt"));
  EXPECT_FALSE(file_exists(lock)) << "a finished command removes its lock file";
  if (!::testing::Test::HasFailure()) test::run_command("rm -rf '" + tmp + "'");
}

TEST(LockCli, ARefusedRunLeavesNoDirectory) {
  ASSERT_TRUE(file_exists(std::string(kFashion) + "/t10k-images-idx3-ubyte.gz")) << kFashion << " is missing";
  const std::string tmp = test::temp_dir("lock_refused"), run = tmp + "/run";
  std::string out;
  auto args = settings(run, 5);
  args.push_back("zoo.select=nomatch*");
  EXPECT_EQ(pdiff("run", args, &out), 1) << out;
  EXPECT_CONTAINS(out, "nomatch*");
  EXPECT_FALSE(file_exists(run)) << "the refused run left " << run;
  if (!::testing::Test::HasFailure()) test::run_command("rm -rf '" + tmp + "'");
}

}  // namespace
}  // namespace pdiff::lock_cli_test
