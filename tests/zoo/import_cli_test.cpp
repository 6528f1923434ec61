// End-to-end `pdiff import` (zoo.import): checkpoints trained in Python with only the last
// layer free (tests/python/own_data.py zoo) become zoo.pt, each evaluated to Python's
// accuracy; `pdiff run` with the same settings skips the collection and goes on; a checkpoint
// that differs from the base outside the selection, or lacks a selected tensor, is refused
// naming it, before anything is written.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "io/file_io.h"
#include "gen/generate.h"
#include "test_util.h"
#include "zoo/zoo_file.h"

namespace pdiff::import_cli_test {
namespace {

const std::string kSettings = " model.arch=mlp data.train_limit=2000 data.test_limit=500 threads=2";
const std::string kTiny = " ae.channels=4,8 ae.latent=8 ae.steps=5 ae.batch=4 ldm.channels=4,8 ldm.steps=5 ldm.batch=4"
                          " generate.n=3 generate.steps=3 eval.baseline_n=2 eval.tsne=false";

// Writes DIR/base.pt and DIR/ckpt_000.pt ...; returns Python's accuracy of each checkpoint.
std::vector<double> python_zoo(const std::string& dir, int k, const std::string& arch = "mlp",
                               const std::string& extra = "") {
  std::string out;
  EXPECT_EQ(test::run_command(test::own_data_command("zoo " + arch + " '" + dir + "' --k " + std::to_string(k) + extra), &out), 0) << out;
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
  std::string out;
  // The folder holds base.pt beside the checkpoints (as own_data.py writes it): base.file is
  // never a checkpoint of the zoo.
  int rc = test::run_command(test::pdiff_binary() + " import --from " + ckpts + " base.file=" + ckpts +
                                 "/base.pt run_dir=" + run + kSettings,
                             &out);
  ASSERT_EQ(rc, 0) << test::tail(out);
  EXPECT_CONTAINS(out, ckpts + "/base.pt is base.file, not a checkpoint of the zoo: left out");
  EXPECT_CONTAINS(out, "zoo.import: 6 checkpoints from " + ckpts);
  EXPECT_CONTAINS(out, "zoo.import: moving across the 6 checkpoints: fc2.weight fc2.bias");
  EXPECT_CONTAINS(out, "zoo: 6 checkpoints (imported from " + ckpts + ")");
  // zoo.select=moving takes what the checkpoints change: here the MLP's last layer.
  rc = test::run_command(test::pdiff_binary() + " import --from " + ckpts + " zoo.select=moving base.file=" + ckpts +
                             "/base.pt run_dir=" + tmp + "/moving" + kSettings,
                         &out);
  ASSERT_EQ(rc, 0) << test::tail(out);
  EXPECT_CONTAINS(out, "zoo.select = moving: the tensors that differ from the base: fc2.weight fc2.bias\n");
  EXPECT_EQ(load_zoo(tmp + "/moving/zoo.pt").layout.names(), (std::vector<std::string>{"fc2.weight", "fc2.bias"}));
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
  // `pdiff run --run DIR` reads the import's settings from DIR/config.yaml, keeps the imported
  // zoo and goes on.
  rc = test::run_command("timeout 600 " + test::pdiff_binary() + " run --run " + run + kTiny, &out);
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

// Checkpoints of a ConvNet-4 trained everywhere, BatchNorm in training mode: they differ from
// the base in every tensor, running statistics included. The default selection refuses them;
// zoo.select=whole imports whole networks, statistics and all, and the generated models carry
// their own statistics into the exported state dict.
// Issue 22's alignment on separate trainings made in Python (ConvNet-4, each from its own seed):
// zoo.align=weights permutes the channels of checkpoints 1.. (BatchNorm statistics with them) to
// match checkpoint 0, which brings them closer and changes no prediction.
TEST(ImportCli, SeparateTrainingsAlignedByWeightMatchingKeepTheirPredictions) {
  const std::string tmp = test::temp_dir("import_align"), ckpts = tmp + "/ckpts";
  const std::vector<double> py_acc = python_zoo(ckpts, 3, "convnet4", " --separate --steps 20");
  const std::string settings = " model.arch=convnet4 data.train_limit=2000 data.test_limit=500 threads=2 "
                               "zoo.select=whole base.file=" + ckpts + "/base.pt";
  auto import = [&](const std::string& align, std::string* out) {
    return test::run_command(test::pdiff_binary() + " import --from '" + ckpts + "/ckpt_*.pt'" + settings +
                                 " zoo.align=" + align + " run_dir=" + tmp + "/" + align, out);
  };
  std::string out;
  ASSERT_EQ(import("none", &out), 0) << test::tail(out);
  ASSERT_EQ(import("weights", &out), 0) << test::tail(out);
  EXPECT_CONTAINS(out, "zoo.align = weights: mean L2 distance to checkpoint 0 ");
  const Zoo plain = load_zoo(tmp + "/none/zoo.pt"), aligned = load_zoo(tmp + "/weights/zoo.pt");
  ASSERT_EQ(aligned.params.size(0), 3);
  EXPECT_TRUE(torch::equal(aligned.params[0], plain.params[0]));  // the reference stays
  for (int k = 0; k < 3; ++k) {
    SCOPED_TRACE("checkpoint " + std::to_string(k));
    EXPECT_NEAR(aligned.accuracy[k].item<double>(), py_acc[k], 0.05);
    // Permuted channels sum in another order: a near-tie may flip, nothing more.
    EXPECT_LE(aligned.predictions[k].ne(plain.predictions[k]).sum().item<int64_t>(), 1);
    if (k == 0) continue;
    EXPECT_GT((aligned.params[k] - plain.params[k]).abs().max().item<double>(), 1e-3);  // reordered ...
    EXPECT_NEAR(aligned.params[k].norm().item<double>(), plain.params[k].norm().item<double>(), 1e-3);  // ... not changed
    EXPECT_LT((aligned.params[k] - aligned.params[0]).norm().item<double>(),
              (plain.params[k] - plain.params[0]).norm().item<double>());
  }
  // What cannot be aligned is refused before anything is written.
  EXPECT_EQ(test::run_command(test::pdiff_binary() + " collect zoo.align=weights zoo.k=2 run_dir=" + tmp + "/collected" +
                                  settings, &out), 1);
  EXPECT_CONTAINS(out, "aligns separate trainings: imported ones (zoo.import) or zoo.mode=scratch");
  EXPECT_EQ(test::run_command(test::pdiff_binary() + " import --from '" + ckpts + "/ckpt_*.pt'" + settings +
                                  " 'zoo.select=fc.*' zoo.align=weights run_dir=" + tmp + "/partial", &out), 1);
  EXPECT_CONTAINS(out, "lacks conv1.weight");
  EXPECT_FALSE(file_exists(tmp + "/collected"));
  EXPECT_FALSE(file_exists(tmp + "/partial"));
  if (!::testing::Test::HasFailure()) test::run_command("rm -rf '" + tmp + "'");
}

TEST(ImportCli, WholeNetworksWithTheirRunningStatistics) {
  const std::string tmp = test::temp_dir("import_whole"), ckpts = tmp + "/ckpts", run = tmp + "/run";
  const std::vector<double> py_acc = python_zoo(ckpts, 4, "convnet4", " --whole --steps 20");
  const std::string settings = " model.arch=convnet4 data.train_limit=2000 data.test_limit=500 threads=2 base.file=" +
                               ckpts + "/base.pt run_dir=" + run;
  std::string out;
  int rc = test::run_command(test::pdiff_binary() + " import --from '" + ckpts + "/ckpt_*.pt'" + settings, &out);
  EXPECT_EQ(rc, 1) << test::tail(out);
  EXPECT_CONTAINS(out, "ckpt_000.pt: outside zoo.select, these differ from the base: conv1.weight, bn1.weight");
  EXPECT_CONTAINS(out, "zoo.select=whole");
  EXPECT_FALSE(file_exists(run));

  rc = test::run_command(test::pdiff_binary() + " run zoo.select=whole zoo.import='" + ckpts + "/ckpt_*.pt'" + settings +
                             kTiny,
                         &out);
  ASSERT_EQ(rc, 0) << test::tail(out);
  const Zoo zoo = load_zoo(run + "/zoo.pt");
  const auto names = zoo.layout.names();
  EXPECT_EQ(names.front(), "conv1.weight");
  EXPECT_NE(std::find(names.begin(), names.end(), "bn1.running_var"), names.end());
  EXPECT_EQ(std::find(names.begin(), names.end(), "bn1.num_batches_tracked"), names.end());
  ASSERT_EQ(zoo.params.size(0), 4);
  for (int k = 0; k < 4; ++k) {
    EXPECT_NEAR(zoo.accuracy[k].item<double>(), py_acc[k], 0.05) << "checkpoint " << k;
    const DictFile f = DictFile::load_any(ckpts + "/ckpt_00" + std::to_string(k) + ".pt");
    for (const auto& e : zoo.layout.entries())
      if (e.name == "bn4.running_mean")
        EXPECT_TRUE(torch::equal(zoo.params[k].slice(0, e.offset, e.offset + e.numel), f.tensor(e.name))) << k;
  }
  ASSERT_EQ(test::run_command(test::pdiff_binary() + " export --index 1 zoo.select=whole zoo.import='" + ckpts +
                                  "/ckpt_*.pt'" + settings + kTiny,
                              &out),
            0)
      << test::tail(out);
  const DictFile exported = DictFile::load_any(run + "/generated_1.pt");
  const torch::Tensor vec = load_generated(run + "/generated.pt").params[1];
  for (const auto& e : zoo.layout.entries())
    if (e.name == "bn2.running_var") {
      const torch::Tensor expect = vec.slice(0, e.offset, e.offset + e.numel).clamp_min(0.0);
      EXPECT_TRUE(torch::equal(exported.tensor(e.name).flatten(), expect));
    }
  ASSERT_EQ(test::run_command(test::python_script_command("check_run.py", run), &out), 0)
      << out;
  EXPECT_CONTAINS(out, "check_run: OK");
  if (!::testing::Test::HasFailure()) test::run_command("rm -rf '" + tmp + "'");
}

// Checkpoints whose last layer trained with BatchNorm in training mode (the official code's
// collection): every running statistic drifts. zoo.import_stats=own (the default) carries each
// checkpoint's statistics in its row, and the zoo's accuracies are Python's; base uses the base's.
TEST(ImportCli, DriftingStatisticsCarriedWithEachCheckpointOrTheBase) {
  const std::string tmp = test::temp_dir("import_drift"), ckpts = tmp + "/ckpts";
  const std::vector<double> py_acc = python_zoo(ckpts, 4, "convnet4", " --bn-train --steps 20");
  const std::string settings = " model.arch=convnet4 data.train_limit=2000 data.test_limit=500 threads=2 "
                               "zoo.select=fc.weight,fc.bias base.file=" + ckpts + "/base.pt";
  std::string out;
  const std::string own = tmp + "/own";
  ASSERT_EQ(test::run_command(test::pdiff_binary() + " import --from '" + ckpts + "/ckpt_*.pt'" + settings +
                                  " run_dir=" + own, &out),
            0)
      << test::tail(out);
  EXPECT_CONTAINS(out, "running statistics outside zoo.select drift from the base's");
  EXPECT_CONTAINS(out, "zoo.import_stats = own: each checkpoint's own are carried with it");
  Zoo zoo = load_zoo(own + "/zoo.pt");
  auto names = zoo.layout.names();
  EXPECT_EQ(names.front(), "fc.weight");  // parameters, then statistics (zoo/layout.h)
  EXPECT_EQ(names.back(), "bn4.running_var");
  EXPECT_EQ(zoo.layout.dim(), 2 * (32 + 64 + 128 + 256) + 256 * 10 + 10);
  for (int k = 0; k < 4; ++k) EXPECT_NEAR(zoo.accuracy[k].item<double>(), py_acc[k], 0.05) << "checkpoint " << k;

  const std::string base = tmp + "/base";
  ASSERT_EQ(test::run_command(test::pdiff_binary() + " import --from '" + ckpts + "/ckpt_*.pt'" + settings +
                                  " zoo.import_stats=base run_dir=" + base, &out),
            0)
      << test::tail(out);
  EXPECT_CONTAINS(out, "zoo.import_stats = base: the base's are used");
  zoo = load_zoo(base + "/zoo.pt");
  EXPECT_EQ(zoo.layout.dim(), 256 * 10 + 10);
  // Measured with the base's statistics: not the checkpoints' own accuracies.
  double moved = 0;
  for (int k = 0; k < 4; ++k) moved = std::max(moved, std::abs(zoo.accuracy[k].item<double>() - py_acc[k]));
  EXPECT_GT(moved, 0.05);
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
  refused(ckpts + "/ckpt_*.pt", "zoo.import = " + ckpts + "/ckpt_001.pt: outside zoo.select, these differ from the "
                                "base: fc1.weight (1 tensors; largest difference 1 in 'fc1.weight')");
  edit("ckpt_001.pt", "sd[\"fc1.weight\"][0, 0] -= 1; del sd[\"fc2.bias\"]");
  refused(ckpts + "/ckpt_*.pt", "zoo.import = " + ckpts + "/ckpt_001.pt: missing tensor 'fc2.bias'");
  refused(ckpts + "/nothing_*.pt", "no checkpoint files match");
  refused(ckpts + "/ckpt_000.pt", "only one checkpoint");
  std::string out;
  EXPECT_EQ(test::run_command(test::pdiff_binary() + " import run_dir=" + tmp + "/run" + kSettings, &out), 1);
  EXPECT_CONTAINS(out, "give the checkpoints with --from");
  EXPECT_EQ(test::run_command(test::pdiff_binary() + " collect zoo.select=moving run_dir=" + tmp + "/run" + kSettings, &out), 1);
  EXPECT_CONTAINS(out, "zoo.select = moving takes the tensors that move across imported checkpoints: set zoo.import");
  EXPECT_FALSE(file_exists(tmp + "/run"));
  if (!::testing::Test::HasFailure()) test::run_command("rm -rf '" + tmp + "'");
}

}  // namespace
}  // namespace pdiff::import_cli_test
