// End-to-end `pdiff import` (zoo.import): checkpoints trained in Python with only the last
// layer free (tests/python/own_data.py zoo) become zoo.pt, each evaluated to Python's
// accuracy; `pdiff run` with the same settings skips the collection and goes on; a checkpoint
// that differs from the base outside the selection, or lacks a selected tensor, is refused
// naming it, before anything is written.
#include <gtest/gtest.h>

#include <sstream>

#include "core/file_io.h"
#include "gen/generate.h"
#include "test_util.h"
#include "zoo/zoo_file.h"

namespace pdiff {
namespace {

const std::string kSettings = " model.arch=mlp data.train_limit=2000 data.test_limit=500 threads=2";
const std::string kTiny = " ae.channels=4,8 ae.latent=8 ae.steps=5 ae.batch=4 ldm.channels=4,8 ldm.steps=5 ldm.batch=4"
                          " generate.n=3 generate.steps=3 eval.baseline_n=2 eval.tsne=false";

// Writes DIR/base.pt and DIR/ckpt_000.pt ...; returns Python's accuracy of each checkpoint.
std::vector<double> python_zoo(const std::string& dir, int k) {
  std::string out;
  EXPECT_EQ(test::run_command(test::own_data_command("zoo mlp '" + dir + "' --k " + std::to_string(k)), &out), 0) << out;
  std::vector<double> acc;
  std::istringstream lines(out);
  std::string word;
  int index;
  double a;
  while (lines >> word)
    if (word == "accuracy" && lines >> index >> a) acc.push_back(a);
  EXPECT_EQ(acc.size(), static_cast<size_t>(k)) << out;
  return acc;
}

TEST(ImportCli, ImportsPythonCheckpointsThenRunSkipsTheCollection) {
  const std::string tmp = test::temp_dir("import"), ckpts = tmp + "/ckpts", run = tmp + "/run";
  const std::vector<double> py_acc = python_zoo(ckpts, 6);
  const std::string source = " base.file=" + ckpts + "/base.pt zoo.import=" + ckpts + "/ckpt_*.pt";
  std::string out;
  int rc = test::run_command(test::pdiff_binary() + " import --from '" + ckpts + "/ckpt_*.pt' base.file=" + ckpts +
                                 "/base.pt run_dir=" + run + kSettings,
                             &out);
  ASSERT_EQ(rc, 0) << test::tail(out);
  EXPECT_CONTAINS(out, "zoo: 6 checkpoints (imported from " + ckpts + "/ckpt_*.pt)");
  Zoo zoo = load_zoo(run + "/zoo.pt");
  ASSERT_EQ(zoo.params.size(0), 6);
  EXPECT_EQ(zoo.layout.names(), (std::vector<std::string>{"fc2.weight", "fc2.bias"}));
  for (int k = 0; k < 6; ++k) {
    EXPECT_NEAR(zoo.accuracy[k].item<double>(), py_acc[k], 0.05) << "checkpoint " << k;
    char name[32];
    std::snprintf(name, sizeof name, "/ckpt_%03d.pt", k);
    DictFile f = DictFile::load_any(ckpts + name);
    EXPECT_TRUE(torch::equal(zoo.params[k].slice(0, 1280, 1290), f.tensor("fc2.bias"))) << name;
  }
  // `pdiff run` with the same settings keeps the imported zoo and goes on.
  rc = test::run_command("timeout 600 " + test::pdiff_binary() + " run run_dir=" + run + source + kSettings + kTiny, &out);
  ASSERT_EQ(rc, 0) << test::tail(out);
  EXPECT_CONTAINS(out, "== collect: up to date, skipped");
  EXPECT_EQ(load_generated(run + "/generated.pt").params.size(0), 3);
  EXPECT_TRUE(file_exists(run + "/report.json"));
  // Without base.file the first checkpoint is the base.
  rc = test::run_command(test::pdiff_binary() + " import --from '" + ckpts + "/ckpt_*.pt' run_dir=" + tmp + "/run2" +
                             kSettings,
                         &out);
  ASSERT_EQ(rc, 0) << test::tail(out);
  EXPECT_CONTAINS(out, "base: read " + ckpts + "/ckpt_000.pt");
  EXPECT_NEAR(load_zoo(tmp + "/run2/zoo.pt").base_accuracy, py_acc[0], 0.05);
  if (!::testing::Test::HasFailure()) test::run_command("rm -rf '" + tmp + "'");
}

TEST(ImportCli, BadCheckpointsRefusedBeforeWriting) {
  const std::string tmp = test::temp_dir("import_bad"), ckpts = tmp + "/ckpts";
  python_zoo(ckpts, 3);
  auto edit = [&](const std::string& name, const std::string& code) {
    std::string out;
    EXPECT_EQ(test::run_command("/usr/bin/python3 -c 'import torch; p = \"" + ckpts + "/" + name +
                                    "\"; sd = torch.load(p); " + code + "; torch.save(sd, p)'",
                                &out),
              0)
        << out;
  };
  auto refused = [&](const std::string& from, const std::string& expect) {
    const std::string run = tmp + "/run";
    std::string out;
    int rc = test::run_command(test::pdiff_binary() + " import --from '" + from + "' base.file=" + ckpts +
                                   "/base.pt run_dir=" + run + kSettings,
                               &out);
    EXPECT_EQ(rc, 1) << test::tail(out);
    EXPECT_CONTAINS(out, expect);
    EXPECT_FALSE(file_exists(run)) << run << " was written";
  };
  edit("ckpt_001.pt", "sd[\"fc1.weight\"][0, 0] += 1");
  refused(ckpts + "/ckpt_*.pt", "zoo.import = " + ckpts + "/ckpt_001.pt: tensor 'fc1.weight' differs from the base");
  edit("ckpt_001.pt", "sd[\"fc1.weight\"][0, 0] -= 1; del sd[\"fc2.bias\"]");
  refused(ckpts + "/ckpt_*.pt", "zoo.import = " + ckpts + "/ckpt_001.pt: missing tensor 'fc2.bias'");
  refused(ckpts + "/nothing_*.pt", "no checkpoint files match");
  refused(ckpts + "/ckpt_000.pt", "only one checkpoint");
  std::string out;
  EXPECT_EQ(test::run_command(test::pdiff_binary() + " import run_dir=" + tmp + "/run" + kSettings, &out), 1);
  EXPECT_CONTAINS(out, "give the checkpoints with --from");
  if (!::testing::Test::HasFailure()) test::run_command("rm -rf '" + tmp + "'");
}

}  // namespace
}  // namespace pdiff
