// End-to-end tests of `pdiff collect` through the real binary on the real Fashion-MNIST with
// tiny settings: the files it writes (checked from PyTorch by tests/python/check_zoo.py),
// refusal of bad inputs before anything is written, and exact resume after a kill.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "io/file_io.h"
#include "test_util.h"
#include "zoo/zoo_alignment.h"
#include "zoo/zoo_file.h"

namespace pdiff::collect_cli_test {
namespace {

const char* kFashion = "/usr/share/datasets/fashion-mnist";

std::string join(const std::vector<std::string>& args) {
  std::string s;
  for (const auto& a : args) s += " '" + a + "'";
  return s;
}

// Runs `pdiff collect ARGS` (with a 5-minute guard), returns the exit code and output.
int collect(const std::vector<std::string>& args, std::string* out) {
  return test::run_command("timeout 300 '" + test::pdiff_binary() + "' collect" + join(args), out);
}

bool exists(const std::string& path) { return file_exists(path); }

bool dir_is_empty_or_missing(const std::string& dir) {
  if (!exists(dir)) return true;
  std::string out;
  test::run_command("ls -A '" + dir + "'", &out);
  return out.empty();
}

// Deletes a test's temporary folder unless the test failed (then it is kept to look at).
void remove_if_passed(const std::string& dir) {
  if (!::testing::Test::HasFailure()) test::run_command("rm -rf '" + dir + "'");
}

// Tiny settings for the run checked from PyTorch.
std::vector<std::string> tiny(const std::string& run_dir, int k, int threads) {
  return {"data.train_limit=2000", "data.test_limit=1000", "base.epochs=1", "zoo.k=" + std::to_string(k),
          "threads=" + std::to_string(threads), "run_dir=" + run_dir};
}

// Even smaller settings for the resume runs (a partial zoo file is written every 25
// checkpoints, so K = 60 leaves 35 steps in which to kill the run).
std::vector<std::string> resume_args(const std::string& run_dir) {
  return {"data.train_limit=1000", "data.test_limit=500", "base.epochs=1", "zoo.k=60", "zoo.batch=32",
          "threads=1", "run_dir=" + run_dir};
}

// Fails (does not skip) the test when the dataset is missing: the README's install step
// installs it.
#define REQUIRE_FASHION_MNIST()                                                    \
  ASSERT_TRUE(exists(std::string(kFashion) + "/t10k-images-idx3-ubyte.gz"))      \
      << kFashion << " is missing: install the Debian package dataset-fashion-mnist (see README)"

TEST(CollectCli, WritesFilesThatPyTorchReads) {
  REQUIRE_FASHION_MNIST();
  const std::string tmp = test::temp_dir("collect"), run = tmp + "/run";
  std::string out;
  int rc = collect(tiny(run, 10, 2), &out);
  ASSERT_EQ(rc, 0) << out;
  for (const char* f : {"base.pt", "base.json", "config.yaml", "zoo.pt"}) EXPECT_TRUE(exists(run + "/" + f)) << f;
  EXPECT_FALSE(exists(run + "/zoo.partial.pt"));
  EXPECT_FALSE(exists(run + "/zoo.pt.partial"));
  EXPECT_FALSE(exists(run + "/base.partial.pt"));
  // The saved config is the resolved one.
  Config saved = Config::load(run + "/config.yaml");
  EXPECT_EQ(saved.i("zoo.k"), 10);
  EXPECT_EQ(saved.s("run_dir"), run);
  // zoo.pt as the library reads it.
  Zoo zoo = load_zoo(run + "/zoo.pt");
  EXPECT_EQ(zoo.params.sizes(), (std::vector<int64_t>{10, 768}));
  EXPECT_EQ(zoo.predictions.sizes(), (std::vector<int64_t>{10, 1000}));
  EXPECT_EQ(zoo.arch, "convnet4");
  EXPECT_GT(zoo.accuracy.min().item<double>(), 30.0) << "the zoo should be far better than chance";
  // Consecutive checkpoints differ (one optimizer step each).
  EXPECT_GT((zoo.params[1] - zoo.params[0]).abs().max().item<double>(), 0.0);

  std::string py;
  rc = test::run_command(test::python_script_command("check_zoo.py", "'" + run + "' '" + kFashion + "' 1000"), &py);
  EXPECT_EQ(rc, 0) << py;
  std::cout << py;
  remove_if_passed(tmp);
}

// Each bad input: non-zero exit, a message containing `expect`, nothing written to run_dir.
void expect_refused(const std::vector<std::string>& args, const std::string& run, const std::string& expect) {
  std::string out;
  int rc = collect(args, &out);
  EXPECT_EQ(rc, 1) << out;  // 1: a pdiff::Error (2 would be an internal error)
  EXPECT_NE(out.find("pdiff: error: "), std::string::npos) << out;
  EXPECT_NE(out.find(expect), std::string::npos) << "missing '" << expect << "' in:\n" << out;
  EXPECT_TRUE(dir_is_empty_or_missing(run)) << run << " was written to";
}

void put_be32(std::string& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<char>((v >> s) & 0xff));
}

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(f);
}

std::string idx(const std::vector<uint32_t>& dims, size_t payload) {
  std::string b;
  put_be32(b, 0x00000800u | static_cast<uint32_t>(dims.size()));
  for (auto d : dims) put_be32(b, d);
  return b + std::string(payload, '\x01');
}

TEST(CollectCli, BadInputsRefusedBeforeWriting) {
  REQUIRE_FASHION_MNIST();
  std::string tmp = test::temp_dir("collect_bad");
  expect_refused({"zoo.foo=1", "run_dir=" + tmp + "/r1"}, tmp + "/r1", "zoo.foo");
  expect_refused({"zoo.k=0", "run_dir=" + tmp + "/r2"}, tmp + "/r2", "zoo.k");
  expect_refused({"zoo.k", "run_dir=" + tmp + "/r2b"}, tmp + "/r2b", "section.key=value");
  expect_refused({"data.train_limit=500", "data.test_limit=100", "zoo.select=nomatch*", "run_dir=" + tmp + "/r3"},
                 tmp + "/r3", "nomatch*");

  // A truncated train-images file: header promises 100 images, the file has 10.
  std::string mn = tmp + "/mnist";
  make_dirs(mn);
  write_gz(mn + "/train-images-idx3-ubyte.gz", idx({100, 28, 28}, 10 * 784));
  write_gz(mn + "/train-labels-idx1-ubyte.gz", idx({100}, 100));
  write_gz(mn + "/t10k-images-idx3-ubyte.gz", idx({10, 28, 28}, 10 * 784));
  write_gz(mn + "/t10k-labels-idx1-ubyte.gz", idx({10}, 10));
  expect_refused({"data.root=" + mn, "run_dir=" + tmp + "/r4"}, tmp + "/r4", mn + "/train-images-idx3-ubyte.gz");

  // CIFAR-10 whose test_batch.bin is not a whole number of records.
  std::string cf = tmp + "/cifar";
  make_dirs(cf);
  std::string rec = std::string(1, '\x03') + std::string(3072, '\x40');
  for (int b = 1; b <= 5; ++b) std::ofstream(cf + "/data_batch_" + std::to_string(b) + ".bin", std::ios::binary) << rec + rec;
  std::ofstream(cf + "/test_batch.bin", std::ios::binary) << rec + rec.substr(0, 1000);
  expect_refused({"data.name=cifar10", "data.root=" + cf, "run_dir=" + tmp + "/r5"}, tmp + "/r5",
                 cf + "/test_batch.bin");

  // STL-10 whose test_X.bin is not a whole number of 3x96x96 images.
  std::string stl = test::write_tiny_stl10(tmp + "/stl", 20, 10);
  {
    std::string bytes = read_text_file(stl + "/test_X.bin");
    write_file_atomic(stl + "/test_X.bin", bytes.substr(0, bytes.size() - 100));
  }
  expect_refused({"data.name=stl10", "data.root=" + stl, "run_dir=" + tmp + "/r8"}, tmp + "/r8",
                 stl + "/test_X.bin");
  // A config whose image size does not fit the architecture (28 px, ViT patches of 8).
  expect_refused({"model.arch=vit_tiny", "model.vit_patch=8", "data.train_limit=500", "data.test_limit=100",
                  "run_dir=" + tmp + "/r6"},
                 tmp + "/r6", "model.vit_patch = 8");
  // A selection that is empty for the architecture: the MLP has no norm layers.
  expect_refused({"model.arch=mlp", "zoo.select=last_norm:2", "data.train_limit=500", "data.test_limit=100",
                  "run_dir=" + tmp + "/r7"},
                 tmp + "/r7", "normalization layers");

  // A fresh but existing run_dir stays empty too.
  std::string fresh = test::temp_dir("collect_fresh");
  expect_refused({"zoo.select=nomatch*", "data.train_limit=500", "data.test_limit=100", "run_dir=" + fresh}, fresh,
                 "nomatch*");
  remove_if_passed(tmp);
  remove_if_passed(fresh);
}

TEST(CollectCli, SeedsModeRunsStartFromTheirOwnPoints) {
  REQUIRE_FASHION_MNIST();
  // With zoo.lr=0 every checkpoint is its run's starting point: the base values plus noise of
  // zoo.init_noise times each tensor's RMS, different for every run.
  const std::string tmp = test::temp_dir("seeds"), run = tmp + "/run";
  std::string out;
  ASSERT_EQ(collect({"data.train_limit=500", "data.test_limit=200", "base.epochs=1", "zoo.mode=seeds", "zoo.k=4",
                     "zoo.run_iters=2", "zoo.lr=0", "zoo.init_noise=0.2", "threads=1", "run_dir=" + run},
                    &out),
            0)
      << out;
  Zoo zoo = load_zoo(run + "/zoo.pt");
  ClassifierSpec spec;
  spec.arch = "convnet4";
  auto base = zoo.layout.flatten(load_base(run + "/base.pt", spec));
  for (int64_t k = 0; k < 4; ++k) {
    for (const auto& e : zoo.layout.entries()) {
      auto b = base.slice(0, e.offset, e.offset + e.numel), z = zoo.params[k].slice(0, e.offset, e.offset + e.numel);
      const double rel = ((z - b).square().mean().sqrt() / b.square().mean().sqrt()).item<double>();
      EXPECT_NEAR(rel, 0.2, 0.05) << "run " << k << " " << e.name;
    }
    for (int64_t j = 0; j < k; ++j) EXPECT_FALSE(torch::equal(zoo.params[k], zoo.params[j])) << k << " vs " << j;
  }
  // With a learning rate (the default; the run's config.yaml holds 0 now) the runs train away
  // from their starting points.
  ASSERT_EQ(collect({"data.train_limit=500", "data.test_limit=200", "base.epochs=1", "zoo.mode=seeds", "zoo.k=4",
                     "zoo.run_iters=2", "zoo.lr=0.01", "zoo.init_noise=0", "threads=1", "run_dir=" + run},
                    &out),
            0)
      << out;
  Zoo trained = load_zoo(run + "/zoo.pt");
  for (int64_t k = 1; k < 4; ++k)  // same start (no noise), own data order: other end points
    EXPECT_FALSE(torch::equal(trained.params[k], trained.params[0])) << k;
  remove_if_passed(tmp);
}

// zoo.mode=scratch (issue 22): every run trains the whole network from its own random
// initialisation; zoo.align=weights aligns each run to run 0 as it is appended. End to end
// through `pdiff run`, then the alignment against the same runs unaligned, then the refusals.
TEST(CollectCli, ScratchModeTrainsWholeNetworksFromTheirOwnInitialisationsAndAlignsThem) {
  REQUIRE_FASHION_MNIST();
  const std::string tmp = test::temp_dir("scratch");
  const std::vector<std::string> scratch = {"model.arch=mlp", "model.mlp_hidden=32", "zoo.mode=scratch", "zoo.select=all",
                                            "zoo.k=4", "zoo.run_iters=60", "zoo.lr=1e-3", "zoo.batch=64",
                                            "data.train_limit=1000", "data.test_limit=300", "base.epochs=1", "threads=1"};
  std::string out;
  ASSERT_EQ(test::run_command("timeout 600 '" + test::pdiff_binary() + "' run" + join(scratch) +
                                  " zoo.align=weights ae.channels=4,8 ae.latent=8 ae.steps=5 ae.batch=4 ldm.channels=4,8"
                                  " ldm.steps=5 ldm.batch=4 generate.n=3 generate.steps=3 eval.baseline_n=2"
                                  " generate.repair=2 eval.tsne=false run_dir=" + tmp + "/aligned",
                              &out),
            0)
      << test::tail(out);
  EXPECT_CONTAINS(out, "4 checkpoints (scratch mode)");
  // generate.repair: the generated models and the baselines rescaled unit by unit, the report
  // says so, and PyTorch measures the generated models as pdiff did (the weights written are
  // the ones evaluated).
  EXPECT_EQ(nlohmann::json::parse(read_text_file(tmp + "/aligned/report.json"))["repair"], 2);
  EXPECT_CONTAINS(read_text_file(tmp + "/aligned/report.md"), "(`generate.repair`, REPAIR)");
  std::string python;
  ASSERT_EQ(test::run_command(test::python_script_command("check_run.py", tmp + "/aligned"), &python), 0)
      << test::tail(python);
  // No base is trained: it would be thrown away (every tensor of every run is its own).
  EXPECT_CONTAINS(out, "base: not trained (zoo.mode = scratch");
  EXPECT_EQ(out.find("base training"), std::string::npos);
  EXPECT_TRUE(exists(tmp + "/aligned/report.md"));
  std::vector<std::string> plain_args = scratch;
  plain_args.push_back("zoo.align=none");
  plain_args.push_back("run_dir=" + tmp + "/plain");
  ASSERT_EQ(collect(plain_args, &out), 0) << test::tail(out);
  std::vector<std::string> by_activations = scratch;  // the same runs, aligned by their activations
  for (const char* a : {"zoo.align=activations", "zoo.align_batches=2"}) by_activations.push_back(a);
  by_activations.push_back("run_dir=" + tmp + "/activations");
  ASSERT_EQ(collect(by_activations, &out), 0) << test::tail(out);
  std::vector<std::string> to_average = scratch;  // then rounds to the average of the others
  for (const char* a : {"zoo.align=weights", "zoo.align_rounds=3"}) to_average.push_back(a);
  to_average.push_back("run_dir=" + tmp + "/average");
  ASSERT_EQ(collect(to_average, &out), 0) << test::tail(out);
  EXPECT_CONTAINS(out, "zoo.align_rounds: round 1 of 3 to the average of the others");
  EXPECT_FALSE(exists(tmp + "/average/zoo.pt.partial.round1"));
  const Zoo plain = load_zoo(tmp + "/plain/zoo.pt");
  ASSERT_EQ(plain.params.size(0), 4);
  {
    // The rounds ran over zoo.pt.partial a row at a time; in memory they give the same rows.
    const Zoo averaged = load_zoo(tmp + "/average/zoo.pt");
    ClassifierSpec spec;
    spec.arch = "mlp";
    spec.mlp_hidden = {32};
    torch::Tensor in_memory = plain.params.clone();
    align_zoo_rows(in_memory, plain.layout, make_classifier(spec), spec, AlignmentSetup{"weights", nullptr, 8, 0, 3});
    EXPECT_TRUE(torch::equal(averaged.params, in_memory));
    EXPECT_FALSE(torch::equal(averaged.params[0], plain.params[0]));  // the first network is permuted too
    for (int64_t k = 0; k < 4; ++k) EXPECT_LE(averaged.predictions[k].ne(plain.predictions[k]).sum().item<int64_t>(), 1);
  }
  for (const std::string method : {"aligned", "activations"}) {
    SCOPED_TRACE(method);
    const Zoo aligned = load_zoo(tmp + "/" + method + "/zoo.pt");
    EXPECT_EQ(plain.layout.dim(), 784 * 32 + 32 + 32 * 10 + 10);
    EXPECT_TRUE(torch::equal(aligned.params[0], plain.params[0]));  // run 0 is the reference
    for (int64_t k = 0; k < 4; ++k) {
      SCOPED_TRACE("run " + std::to_string(k));
      EXPECT_GT(plain.accuracy[k].item<double>(), 50.0);  // 60 steps from scratch learn
      EXPECT_LE(aligned.predictions[k].ne(plain.predictions[k]).sum().item<int64_t>(), 1);
      for (int64_t j = 0; j < k; ++j)  // separate trainings: far apart, not a base plus noise
        EXPECT_GT((plain.params[k] - plain.params[j]).norm().item<double>(), 0.3 * plain.params[j].norm().item<double>());
      if (k == 0) continue;
      EXPECT_LT((aligned.params[k] - aligned.params[0]).norm().item<double>(),
                (plain.params[k] - plain.params[0]).norm().item<double>());
      EXPECT_NEAR(aligned.params[k].norm().item<double>(), plain.params[k].norm().item<double>(), 1e-3);
    }
  }
  // Whole networks only, and pdiff's own architectures: refused before anything is written.
  std::vector<std::string> subset = scratch;
  subset.push_back("zoo.select=fc2.*");
  subset.push_back("run_dir=" + tmp + "/subset");
  EXPECT_EQ(collect(subset, &out), 1);
  EXPECT_CONTAINS(out, "zoo.mode = scratch trains whole networks, but zoo.select = fc2.* leaves out fc1.weight");
  EXPECT_FALSE(exists(tmp + "/subset"));
  remove_if_passed(tmp);
}

// A ResNet-18 zoo from scratch aligned by activation matching: every block's inner channels
// and every residual stream are seen at the layers that read them (zoo/activation_matching.h).
// The aligned runs are the plain ones reordered: the same predictions, closer to run 0.
TEST(CollectCli, ResNetZooAlignsByActivations) {
  REQUIRE_FASHION_MNIST();
  const std::string tmp = test::temp_dir("resnet_activations");
  const std::vector<std::string> scratch = {"model.arch=resnet18", "zoo.mode=scratch", "zoo.select=whole", "zoo.k=3",
                                            "zoo.run_iters=3", "zoo.batch=16", "base.batch=16", "data.train_limit=32",
                                            "data.test_limit=64", "zoo.align_batches=1", "threads=1"};
  std::string out;
  std::vector<std::string> plain_args = scratch, by_activations = scratch;
  plain_args.push_back("zoo.align=none");
  plain_args.push_back("run_dir=" + tmp + "/plain");
  ASSERT_EQ(collect(plain_args, &out), 0) << test::tail(out);
  by_activations.push_back("zoo.align=activations");
  by_activations.push_back("run_dir=" + tmp + "/activations");
  ASSERT_EQ(collect(by_activations, &out), 0) << test::tail(out);
  EXPECT_CONTAINS(out, "zoo.align = activations: 2 checkpoints aligned to checkpoint 0");
  const Zoo plain = load_zoo(tmp + "/plain/zoo.pt"), aligned = load_zoo(tmp + "/activations/zoo.pt");
  EXPECT_TRUE(torch::equal(aligned.params[0], plain.params[0]));
  for (int64_t k = 1; k < 3; ++k) {
    SCOPED_TRACE("run " + std::to_string(k));
    EXPECT_FALSE(torch::equal(aligned.params[k], plain.params[k]));
    EXPECT_LE(aligned.predictions[k].ne(plain.predictions[k]).sum().item<int64_t>(), 1);
    EXPECT_NEAR(aligned.params[k].norm().item<double>(), plain.params[k].norm().item<double>(), 1e-3);
    EXPECT_LT((aligned.params[k] - aligned.params[0]).norm().item<double>(),
              (plain.params[k] - plain.params[0]).norm().item<double>());
  }
  remove_if_passed(tmp);
}

// zoo.align_rounds over the rows file: a collection killed in its second round of alignment
// to the average resumes at that round (the rows it had trained and aligned kept), and its zoo
// is the uninterrupted one. Activation matching on 50 batches makes a round last ~0.5 s.
TEST(CollectCli, AlignmentRoundsResumeAfterKill) {
  REQUIRE_FASHION_MNIST();
  const std::string tmp = test::temp_dir("rounds_resume");
  auto args = [&](const std::string& dir) {
    return std::vector<std::string>{"model.arch=mlp", "model.mlp_hidden=256,128", "zoo.mode=scratch", "zoo.select=all",
                                    "zoo.k=4", "zoo.run_iters=10", "zoo.batch=64", "zoo.lr=1e-3",
                                    "data.train_limit=1000", "data.test_limit=100", "zoo.align=activations",
                                    "zoo.align_batches=50", "zoo.align_rounds=2", "threads=1", "run_dir=" + tmp + dir};
  };
  const pid_t pid = test::spawn_pdiff("collect", args("/a"), tmp + "/a1.log");
  ASSERT_GT(pid, 0);
  bool seen = false;
  int status = 0;
  const auto t0 = std::chrono::steady_clock::now();
  std::string log1;
  while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(240) && waitpid(pid, &status, WNOHANG) == 0) {
    test::run_command("cat '" + tmp + "/a1.log'", &log1);
    if (log1.find("zoo.align_rounds: round 1 of 2") != std::string::npos) {
      seen = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  ASSERT_TRUE(seen) << test::tail(log1);
  ASSERT_FALSE(exists(tmp + "/a/zoo.pt")) << "the run finished before it was killed";
  std::string out;
  ASSERT_EQ(collect(args("/a"), &out), 0) << test::tail(out);
  EXPECT_CONTAINS(out, "resuming after 4 of 4 checkpoints");
  EXPECT_EQ(out.find("round 1 of 2"), std::string::npos) << "round 1 was done again";
  for (const char* left : {"/a/zoo.pt.partial", "/a/zoo.partial.pt", "/a/zoo.pt.partial.round2"})
    EXPECT_FALSE(exists(tmp + left)) << left;
  ASSERT_EQ(collect(args("/b"), &out), 0) << test::tail(out);
  const Zoo a = load_zoo(tmp + "/a/zoo.pt"), b = load_zoo(tmp + "/b/zoo.pt");
  EXPECT_TRUE(torch::equal(a.params, b.params));
  EXPECT_TRUE(torch::equal(a.predictions, b.predictions));
  remove_if_passed(tmp);
}

TEST(CollectCli, ResumeAfterKillEqualsUninterruptedRun) {
  REQUIRE_FASHION_MNIST();
  std::string tmp = test::temp_dir("collect_resume");
  const std::string a = tmp + "/interrupted", b = tmp + "/uninterrupted";

  // Interrupted run: kill it as soon as the first partial zoo file appears (after 25 of 60).
  pid_t pid = test::spawn_pdiff("collect", resume_args(a), tmp + "/a1.log");
  ASSERT_GT(pid, 0);
  bool seen = false, exited = false;
  int status = 0;
  auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(240)) {
    if (exists(a + "/zoo.partial.pt")) {
      seen = true;
      break;
    }
    if (waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  std::string log1;
  test::run_command("cat '" + tmp + "/a1.log'", &log1);
  ASSERT_TRUE(seen) << "zoo.partial.pt never appeared (exited: " << exited << ")\n" << log1;
  ASSERT_FALSE(exists(a + "/zoo.pt")) << "the run finished before it was killed";
  ASSERT_TRUE(exists(a + "/base.pt"));
  // The checkpoints so far are in the zoo being written, appended one by one (io/rows_writer.h).
  {
    std::ifstream rows(a + "/zoo.pt.partial", std::ios::binary | std::ios::ate);
    ASSERT_TRUE(rows.good()) << "no zoo.pt.partial";
    EXPECT_GE(static_cast<int64_t>(rows.tellg()), 25 * 768 * 4);
  }

  // Rerun the same command: it resumes and finishes.
  std::string out;
  int rc = collect(resume_args(a), &out);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("resuming after"), std::string::npos) << out;
  EXPECT_FALSE(exists(a + "/zoo.partial.pt"));
  EXPECT_FALSE(exists(a + "/zoo.pt.partial"));

  // The uninterrupted reference.
  rc = collect(resume_args(b), &out);
  ASSERT_EQ(rc, 0) << out;

  Zoo za = load_zoo(a + "/zoo.pt"), zb = load_zoo(b + "/zoo.pt");
  ASSERT_EQ(za.params.sizes(), zb.params.sizes());
  ASSERT_EQ(za.params.size(0), 60);
  EXPECT_TRUE(torch::equal(za.params, zb.params))
      << "max |difference| " << (za.params - zb.params).abs().max().item<double>();
  EXPECT_TRUE(torch::equal(za.accuracy, zb.accuracy));
  EXPECT_TRUE(torch::equal(za.predictions, zb.predictions));
  EXPECT_EQ(za.fingerprint, zb.fingerprint);
  // The checkpoints after the resume point are not all the same (training went on).
  EXPECT_GT((za.params[59] - za.params[30]).abs().max().item<double>(), 0.0);
  remove_if_passed(tmp);
}

}  // namespace
}  // namespace pdiff::collect_cli_test
