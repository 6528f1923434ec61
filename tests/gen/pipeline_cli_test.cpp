// End-to-end tests of `pdiff collect / train / generate / export / eval / run` on a tiny slice
// of the real Fashion-MNIST, through the real binary.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "io/file_io.h"
#include "gen/generate.h"
#include "gen/model_files.h"
#include "zoo/zoo_file.h"
#include "test_util.h"

namespace pdiff::pipeline_cli_test {
namespace {

// Small but real: 1000 training images, 500 test images, K = 20, tiny generative models.
std::string tiny(const std::string& dir) {
  return " run_dir=" + dir +
         " threads=1 data.train_limit=1000 data.test_limit=500 base.epochs=1 zoo.k=20"
         " ae.channels=8,16,16,8 ae.latent=32 ae.steps=60 ae.batch=10 ldm.channels=8,16 ldm.steps=60"
         " ldm.batch=20 generate.n=10 generate.steps=10 eval.baseline_n=5 eval.tsne=false";
}

std::string pdiff_cmd(const std::string& sub, const std::string& args) {
  return test::pdiff_binary() + " " + sub + args;
}

void run_ok(const std::string& cmd) {
  std::string out;
  int rc = test::run_command(cmd, &out);
  ASSERT_EQ(rc, 0) << cmd << "\n" << out.substr(out.size() > 3000 ? out.size() - 3000 : 0);
}

TEST(PipelineCli, TrainGenerateExportAndPythonReadsEverything) {
  std::string dir = test::temp_dir("pipeline");
  run_ok(pdiff_cmd("collect", tiny(dir)));
  run_ok(pdiff_cmd("train", tiny(dir)));
  for (const char* f : {"ae.pt", "ldm.pt", "ae_loss.csv", "ldm_loss.csv"}) EXPECT_TRUE(file_exists(dir + "/" + f)) << f;
  {
    // The diffusion ran on the zoo's latents centred on their mean, along their first 16
    // principal directions (ldm.subspace=auto), scaled to unit variance.
    AeModel ae = load_ae(dir + "/ae.pt");
    LdmModel ldm = load_ldm(dir + "/ldm.pt");
    torch::NoGradGuard ng;
    ae.net->eval();
    auto latents = ae.net->encode(ae.standardizer.apply(load_zoo(dir + "/zoo.pt").params));
    ASSERT_EQ(ldm.latent_mean.sizes(), (std::vector<int64_t>{32}));
    EXPECT_LT((ldm.latent_mean - latents.mean(0)).abs().max().item<double>(), 1e-4);
    auto z = to_diffusion_space(ldm, latents);
    ASSERT_EQ(z.sizes(), (std::vector<int64_t>{20, 16}));
    EXPECT_NEAR(z.std().item<double>(), 1.0, 1e-3);
    EXPECT_LT(z.mean(0).abs().max().item<double>(), 1e-3);
  }
  run_ok(pdiff_cmd("generate", tiny(dir)));
  Generated g = load_generated(dir + "/generated.pt");
  EXPECT_EQ(g.params.sizes(), (std::vector<int64_t>{10, 768}));
  EXPECT_TRUE(torch::isfinite(g.params).all().item<bool>());
  EXPECT_FALSE(file_exists(dir + "/generated.pt.partial")) << "written a batch at a time, then renamed";

  // Same seed twice: identical; batches of 7 vs all at once: same first model.
  run_ok("cp " + dir + "/generated.pt " + dir + "/generated_first.pt");
  run_ok(pdiff_cmd("generate", tiny(dir) + " generate.batch=7"));
  Generated g7 = load_generated(dir + "/generated.pt");
  EXPECT_LT(test::max_relative_difference(g7.params, g.params), test::kSummationOrderTolerance)
      << "batch size changed the models";
  run_ok(pdiff_cmd("generate", tiny(dir) + " generate.batch=100"));  // the run remembers 7 otherwise
  EXPECT_TRUE(torch::equal(g.params, load_generated(dir + "/generated.pt").params)) << "same seed, other models";
  run_ok(pdiff_cmd("generate", tiny(dir) + " generate.seed=1"));
  EXPECT_FALSE(torch::equal(g.params, load_generated(dir + "/generated.pt").params)) << "seed ignored";
  run_ok(pdiff_cmd("generate", tiny(dir) + " generate.seed=0"));  // the run remembers seed 1 otherwise

  run_ok(pdiff_cmd("export", tiny(dir) + " --index 3"));
  EXPECT_TRUE(file_exists(dir + "/generated_3.pt"));
  const std::string check_generated = test::python_script_command("check_generated.py");
  run_ok(check_generated + dir + " 500");
  // Without the exported file the check fails, naming it, unless told that nothing was exported.
  run_ok("mv " + dir + "/generated_3.pt " + dir + "/exported.pt");
  std::string out;
  EXPECT_NE(test::run_command(check_generated + dir + " 500", &out), 0) << out;
  EXPECT_CONTAINS(out, "generated_3.pt not found");
  run_ok(check_generated + "--no-export " + dir + " 500");
}

// The keys of docs/novelty.md's fixes, end to end: diffusion on the zoo's first principal
// directions of the latent, position channels and the clamped clean estimate.
TEST(PipelineCli, SubspacePositionAndClipRunEndToEnd) {
  std::string dir = test::temp_dir("subspace");
  const std::string keys = tiny(dir) + " ldm.subspace=8 ldm.position=4 generate.clip=true";
  run_ok(pdiff_cmd("run", keys));
  AeModel ae = load_ae(dir + "/ae.pt");
  LdmModel ldm = load_ldm(dir + "/ldm.pt");
  torch::NoGradGuard ng;
  ae.net->eval();
  ASSERT_TRUE(ldm.latent_basis.defined());
  ASSERT_EQ(ldm.latent_basis.sizes(), (std::vector<int64_t>{8, 32}));
  EXPECT_EQ(ldm.ema->config().length, 8);
  EXPECT_EQ(ldm.ema->config().position, 4);
  // Orthonormal directions, ordered by the zoo's variance along them; unit variance in the
  // diffusion's space, and the zoo's range kept for the clamp.
  EXPECT_LT((ldm.latent_basis.matmul(ldm.latent_basis.t()) - torch::eye(8)).abs().max().item<double>(), 1e-4);
  auto latents = ae.net->encode(ae.standardizer.apply(load_zoo(dir + "/zoo.pt").params));
  auto z = to_diffusion_space(ldm, latents);
  EXPECT_NEAR(z.std().item<double>(), 1.0, 1e-3);
  auto var = z.var(0);
  EXPECT_TRUE((var.slice(0, 0, 7) >= var.slice(0, 1, 8) - 1e-5).all().item<bool>()) << var;
  EXPECT_TRUE(torch::allclose(std::get<0>(z.min(0)), ldm.latent_min, 1e-4, 1e-5));
  // Back from the subspace: the zoo's latents up to what the other directions held.
  auto back = from_diffusion_space(ldm, z);
  EXPECT_LT((back - latents).norm().item<double>(), (latents - ldm.latent_mean).norm().item<double>() * 0.5);
  Generated g = load_generated(dir + "/generated.pt");
  EXPECT_EQ(g.params.sizes(), (std::vector<int64_t>{10, 768}));
  EXPECT_TRUE(torch::isfinite(g.params).all().item<bool>());
  EXPECT_TRUE(file_exists(dir + "/report.json"));
  // More directions than the zoo has checkpoints: a clear error before training.
  std::string out;
  EXPECT_NE(test::run_command(pdiff_cmd("train", tiny(dir) + " ldm.subspace=24"), &out), 0);
  EXPECT_CONTAINS(out, "ldm.subspace = 24 is more than the zoo's 20 checkpoints");
  // `pdiff run` says so before it collects a zoo (and trains an autoencoder) for nothing.
  const std::string fresh = test::temp_dir("subspace_early");
  EXPECT_NE(test::run_command(pdiff_cmd("run", tiny(fresh) + " ldm.subspace=24"), &out), 0);
  EXPECT_CONTAINS(out, "ldm.subspace = 24 is more than zoo.k = 20 checkpoints");
  EXPECT_FALSE(file_exists(fresh + "/zoo.pt"));
  EXPECT_FALSE(file_exists(fresh + "/base.pt"));
}

// A whole network (every weight of an MLP, D = 101 770): ae.kind=auto takes the token
// autoencoder, and the generated networks work as well as the checkpoints they come from.
TEST(PipelineCli, WholeMlpWithTheTokenAutoencoder) {
  std::string dir = test::temp_dir("whole_mlp");
  const std::string keys = tiny(dir) +
                           " model.arch=mlp model.mlp_hidden=128 zoo.select=all zoo.optimizer=sgd zoo.lr=0.01"
                           " ae.token_hidden=64 ae.steps=100";
  std::string out;
  ASSERT_EQ(test::run_command(pdiff_cmd("run", keys), &out), 0)
      << out.substr(out.size() > 3000 ? out.size() - 3000 : 0);
  EXPECT_CONTAINS(out, "ae: token autoencoder (ae.kind=auto, D = 101770)");
  AeModel ae = load_ae(dir + "/ae.pt");
  EXPECT_EQ(ae.kind, "tokens");
  EXPECT_EQ(ae.net->latent_size(), (392 + 1 + 5 + 1) * 8);
  Generated g = load_generated(dir + "/generated.pt");
  EXPECT_EQ(g.params.sizes(), (std::vector<int64_t>{10, 101770}));
  auto report = nlohmann::json::parse(read_text_file(dir + "/report.json"));
  const auto& groups = report["groups"];
  const double gen_mean = groups["generated"]["acc"]["mean"], gen_min = groups["generated"]["acc"]["min"];
  const double orig_mean = groups["original"]["acc"]["mean"], orig_min = groups["original"]["acc"]["min"];
  // The tiny zoo is a steep stretch of training (59-72 % here), so the bar is its range: a
  // whole network that collapsed (~10 %) or drifted off (noise_raw_0.06: ~40 %) fails it.
  // Printed for the spread across seeds and thread counts (docs/benchmarks.md, "Quality gates").
  std::cout << "whole MLP: originals mean " << orig_mean << " min " << orig_min << ", generated mean " << gen_mean
            << " min " << gen_min << "\n";
  EXPECT_GT(orig_mean, 60.0) << "the tiny base MLP did not learn: the test lost its point";
  EXPECT_GE(gen_mean, orig_min);
  EXPECT_GE(gen_min, orig_min - 5.0);
  // The conv autoencoder stays the choice at small D, and can be asked for by name.
  std::string dir2 = test::temp_dir("whole_mlp_conv");
  run_ok(pdiff_cmd("collect", tiny(dir2)));
  ASSERT_EQ(test::run_command(pdiff_cmd("train", tiny(dir2) + " ae.kind=tokens ae.token_size=64"), &out), 0) << out;
  EXPECT_CONTAINS(out, "ae: token autoencoder (ae.kind=tokens, D = 768)");
  // Back to the default (the run's config.yaml holds ae.kind=tokens now).
  ASSERT_EQ(test::run_command(pdiff_cmd("train", tiny(dir2) + " ae.kind=auto"), &out), 0) << out;
  EXPECT_CONTAINS(out, "ae: conv autoencoder (ae.kind=auto, D = 768)");
}

// Files that no longer belong together are refused, naming what to redo: models generated from
// another zoo (eval, export), generators trained on another zoo (generate), a file of another
// format version.
TEST(PipelineCli, RefusesFilesMadeFromAnotherZoo) {
  std::string dir = test::temp_dir("stale_generated"), other = test::temp_dir("mismatch_other");
  run_ok(pdiff_cmd("collect", tiny(dir)));
  run_ok(pdiff_cmd("train", tiny(dir)));
  run_ok(pdiff_cmd("generate", tiny(dir)));
  // A zoo re-collected with other settings keeps the layout, so only the zoo's fingerprint
  // tells that generated.pt no longer belongs to it.
  run_ok(pdiff_cmd("collect", tiny(dir) + " zoo.k=15"));
  std::string out;
  EXPECT_NE(test::run_command(pdiff_cmd("eval", tiny(dir) + " zoo.k=15"), &out), 0);
  EXPECT_NE(out.find("generated.pt was generated from another"), std::string::npos) << out;
  EXPECT_FALSE(file_exists(dir + "/report.json"));
  EXPECT_NE(test::run_command(pdiff_cmd("export", tiny(dir) + " zoo.k=15 --index 0"), &out), 0);
  EXPECT_NE(out.find("pdiff generate"), std::string::npos) << out;
  EXPECT_FALSE(file_exists(dir + "/generated_0.pt"));

  // A zoo of another selection (another layout) under the trained generators.
  run_ok(pdiff_cmd("collect", tiny(other) + " zoo.select=bn4"));
  run_ok("cp " + other + "/zoo.pt " + dir + "/zoo.pt");
  run_ok("rm " + dir + "/generated.pt");
  EXPECT_NE(test::run_command(pdiff_cmd("generate", tiny(dir)), &out), 0);
  EXPECT_NE(out.find("ae.pt"), std::string::npos) << out;
  EXPECT_NE(out.find("pdiff train"), std::string::npos) << out;
  EXPECT_FALSE(file_exists(dir + "/generated.pt"));
  // A file of another format version is refused with the version in the message.
  {
    DictFile f = DictFile::load_any(dir + "/ae.pt");
    f.set("version", int64_t{99});
    std::vector<char> bytes = torch::pickle_save(c10::IValue(f.dict()));
    write_file_atomic(dir + "/ae.pt", std::string(bytes.begin(), bytes.end()));
  }
  EXPECT_NE(test::run_command(pdiff_cmd("generate", tiny(dir)), &out), 0);
  EXPECT_NE(out.find("version 99"), std::string::npos) << out;
}

// Commands after the first know their run (`--run DIR` reads DIR/config.yaml), config.yaml
// holds what the last stage used, export chooses models, exports of an older generated.pt go,
// and --quiet leaves only results and errors.
TEST(PipelineCli, LaterCommandsKnowTheirRun) {
  const std::string dir = test::temp_dir("know_run");
  run_ok(pdiff_cmd("run", tiny(dir)));
  std::string out, err;
  // Nothing repeated: the run's data limits, K and generate.n come from config.yaml.
  ASSERT_EQ(test::run_command("{ " + pdiff_cmd("export", " --run " + dir + " --best") + " 2>" + dir + "/err.txt; }", &out), 0)
      << out;
  err = read_text_file(dir + "/err.txt");
  EXPECT_CONTAINS(err, "config from " + dir + "/config.yaml");
  EXPECT_CONTAINS(err, "the best of 10");
  Generated g = load_generated(dir + "/generated.pt");
  const int64_t best = g.accuracy.argmax().item<int64_t>();
  EXPECT_EQ(out, dir + "/generated_" + std::to_string(best) + ".pt\n");
  ASSERT_EQ(test::run_command(test::run_command("mkdir -p " + dir + "/all") == 0
                                  ? pdiff_cmd("export", " -q --run " + dir + " --all -o " + dir + "/all")
                                  : "false",
                              &out),
            0);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(file_exists(dir + "/all/generated_" + std::to_string(i) + ".pt")) << i;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 10) << "-q: the ten paths and nothing else\n" << out;
  run_ok(pdiff_cmd("export", " --run " + dir + " --index 2 --index 3"));
  // Errors say what to do, --quiet or not.
  EXPECT_NE(test::run_command(pdiff_cmd("export", " -q --run " + dir + " --index 10"), &out), 0);
  EXPECT_CONTAINS(out, "holds 10 models (0 to 9)");
  EXPECT_NE(test::run_command(pdiff_cmd("export", " --run " + dir + " -o " + dir + "/missing/m.pt"), &out), 0);
  EXPECT_CONTAINS(out, "mkdir -p " + dir + "/missing");
  EXPECT_NE(test::run_command(pdiff_cmd("export", " --run " + dir + " --best --all"), &out), 0);
  EXPECT_CONTAINS(out, "give one of --index, --best and --all");
  // A new generation: config.yaml says what it used, the old exports are gone.
  ASSERT_EQ(test::run_command(pdiff_cmd("run", " --run " + dir + " generate.n=8"), &out), 0) << out;
  const int exported = best == 2 || best == 3 ? 2 : 3;
  EXPECT_CONTAINS(out, "removed " + std::to_string(exported) + " files exported from the previous generated.pt");
  EXPECT_FALSE(file_exists(dir + "/generated_2.pt"));
  EXPECT_FALSE(file_exists(dir + "/generated_" + std::to_string(best) + ".pt"));
  const std::string config = read_text_file(dir + "/config.yaml");
  EXPECT_CONTAINS(config, "  n: 8\n");
  EXPECT_CONTAINS(config, "  train_limit: 1000\n");
  EXPECT_EQ(load_generated(dir + "/generated.pt").params.size(0), 8);
}

TEST(PipelineCli, TrainingResumesAfterInterruptionWithTheSameResult) {
  std::string a = test::temp_dir("resume_a"), b = test::temp_dir("resume_b");
  const std::string args = " ae.steps=600 ldm.steps=20";
  run_ok(pdiff_cmd("collect", tiny(a)));
  run_ok("cp " + a + "/zoo.pt " + a + "/base.pt " + a + "/base.json " + b + "/");
  run_ok(pdiff_cmd("train", tiny(a) + args));
  // Interrupt b once its first partial checkpoint exists, then resume.
  std::string cmd = pdiff_cmd("train", tiny(b) + args);
  std::thread killer([&] {
    for (int i = 0; i < 600 && !file_exists(b + "/ae.partial.pt"); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    test::run_command("pkill -INT -f 'run_dir=" + b + " '");
  });
  std::string out;
  int rc = test::run_command(cmd, &out);
  killer.join();
  EXPECT_NE(rc, 0) << "training was not interrupted";
  ASSERT_TRUE(file_exists(b + "/ae.partial.pt"));
  run_ok(cmd);
  EXPECT_FALSE(file_exists(b + "/ae.partial.pt"));
  EXPECT_EQ(read_text_file(a + "/ae_loss.csv"), read_text_file(b + "/ae_loss.csv"));
}

}  // namespace
}  // namespace pdiff::pipeline_cli_test
