// The commands README.md and docs/own-model.md show, run as a reader would, at tiny budgets
// (tests/python/run_doc_commands.py): a documented command that stops working fails here. And the
// check itself can fail: a scratch copy of the docs with one broken command is refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "test_util.h"

namespace pdiff::docs_commands_cli_test {
namespace {

std::string doc_runner(const std::string& repo) {
  const std::string build = std::filesystem::path(test::pdiff_binary()).parent_path().string();
  return test::python_script_command("run_doc_commands.py", "'" + repo + "' '" + build + "'");
}

TEST(DocsCommandsCli, EveryCommandOfTheReadmeAndOwnModelRuns) {
  std::string out;
  const int rc = test::run_command("timeout 1200 " + doc_runner(test::source_dir()), &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_CONTAINS(out, " 0 failed");
  EXPECT_CONTAINS(out, "README.md:");
  EXPECT_CONTAINS(out, "docs/own-model.md:");
}

TEST(DocsCommandsCli, ABrokenCommandFails) {
  // A scratch repository: the real tests and configs, docs with one command that cannot work.
  const std::string repo = test::temp_dir("docs_broken");
  std::filesystem::create_directories(repo + "/docs");
  for (const char* dir : {"tests", "configs"})
    std::filesystem::create_directory_symlink(test::source_dir() + "/" + dir, repo + "/" + dir);
  std::ofstream(repo + "/README.md") << "# x\n\n    build/pdiff run zoo.k=twenty run_dir=runs/broken\n";
  std::ofstream(repo + "/docs/own-model.md") << "# y\n\n    build/pdiff keys\n";
  std::string out;
  EXPECT_EQ(test::run_command(doc_runner(repo), &out), 1) << out;
  EXPECT_CONTAINS(out, "README.md:3: FAILED");
  EXPECT_CONTAINS(out, "zoo.k");
  EXPECT_CONTAINS(out, "docs/own-model.md:3: ok");
  EXPECT_CONTAINS(out, "2 commands run, 1 failed: README.md:3");
}

}  // namespace
}  // namespace pdiff::docs_commands_cli_test
