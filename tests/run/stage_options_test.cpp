// The config turned into the run context and each stage's options (run/stage_options.h).
#include "run/stage_options.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "kernels/dispatch.h"
#include "test_util.h"

namespace pdiff::stage_options_test {
namespace {

TEST(StageOptions, ThreadsFromConfigAndCpuOnly) {
  test::ScopedEnv no_override("PDIFF_THREADS", nullptr);
  Config cfg;
  cfg.set("threads", "1", "test");
  open_run_context(cfg);
  EXPECT_EQ(torch::get_num_threads(), 1);
  cfg.set("device", "cuda", "test");
  try {
    open_run_context(cfg);
    FAIL() << "device=cuda accepted by a CPU-only build";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("device = cuda"), std::string::npos) << e.what();
  }
}

TEST(StageOptions, ThreadsVariableOverridesTheKey) {
  Config cfg;
  cfg.set("threads", "2", "test");
  {
    test::ScopedEnv one("PDIFF_THREADS", "1");
    open_run_context(cfg);
    EXPECT_EQ(torch::get_num_threads(), 1);
  }
  {
    test::ScopedEnv bad("PDIFF_THREADS", "two");
    EXPECT_CONTAINS(test::error_of([&] { open_run_context(cfg); }), "PDIFF_THREADS = 'two': use a thread count");
  }
  test::ScopedEnv none("PDIFF_THREADS", nullptr);
  open_run_context(cfg);
  EXPECT_EQ(torch::get_num_threads(), 2);
}


TEST(StageOptions, DeviceAutoIsTheCpuWithoutCudaAndWordsAreChecked) {
  Config cfg;
  EXPECT_EQ(cfg.s("device"), "auto");
  EXPECT_EQ(run_context(cfg).device, torch::cuda::is_available() ? torch::Device("cuda:0") : torch::Device("cpu"));
  cfg.set("device", "cpu", "test");
  EXPECT_EQ(run_context(cfg).device, torch::Device("cpu"));
  for (const char* word : {"gpu", "cuda:", "cuda:x", "cuda0"}) {
    cfg.set("device", word, "test");
    EXPECT_CONTAINS(test::error_of([&] { run_context(cfg); }), "use auto, cpu, cuda or cuda:N");
  }
  if (!torch::cuda::is_available()) {
    cfg.set("device", "cuda:1", "test");
    EXPECT_CONTAINS(test::error_of([&] { run_context(cfg); }), "sees no CUDA device");
  }
}

TEST(StageOptions, KernelsVariableForcesTheGenericPath) {
  Config cfg;
  cfg.set("threads", "1", "test");
  {
    test::ScopedEnv generic("PDIFF_KERNELS", "generic");
    open_run_context(cfg);
    EXPECT_EQ(kernel_choice(), KernelChoice::Generic);
    test::ScopedEnv bad("PDIFF_KERNELS", "fastest");
    EXPECT_CONTAINS(test::error_of([&] { open_run_context(cfg); }), "PDIFF_KERNELS = 'fastest'");
  }
  test::ScopedEnv back("PDIFF_KERNELS", "auto");
  open_run_context(cfg);
  EXPECT_EQ(kernel_choice(), KernelChoice::Auto);
}

TEST(StageOptions, ContextAndFingerprintsComeFromTheConfig) {
  Config cfg = Config::load("", {"run_dir=/tmp/x", "seed=7", "zoo.k=9", "ldm.subspace=4"});
  RunContext run = run_context(cfg);
  EXPECT_EQ(run.dir, "/tmp/x");
  EXPECT_EQ(run.seed, 7);
  EXPECT_EQ(run.config_yaml, cfg.to_yaml());
  EXPECT_EQ(collect_options(cfg).zoo.k, 9);
  EXPECT_EQ(collect_options(cfg).fingerprint, cfg.fingerprint(collect_config_keys()));
  EXPECT_EQ(train_options(cfg).ldm.subspace, 4);
  EXPECT_EQ(train_options(Config()).ldm.subspace, -1) << "auto";
  // Each stage's key list holds the previous one's: a change upstream invalidates downstream.
  EXPECT_NE(collect_options(cfg).fingerprint, collect_options(Config()).fingerprint);
  EXPECT_NE(eval_options(cfg).fingerprint, eval_options(Config()).fingerprint);
  EXPECT_EQ(eval_options(cfg).config["zoo"]["k"], 9);
}

// The structs' own defaults are the config's: C++ users start from `pdiff keys`' defaults.
TEST(StageOptions, StructDefaultsEqualTheConfigDefaults) {
  const Config defaults;
  const CollectOptions c = collect_options(defaults), cd;
  EXPECT_EQ(c.data.name, cd.data.name);
  EXPECT_EQ(c.data.root, cd.data.root);
  EXPECT_EQ(c.data.normalize, cd.data.normalize);
  EXPECT_EQ(c.data.augment, cd.data.augment);
  EXPECT_EQ(c.data.num_classes, cd.data.num_classes);
  EXPECT_EQ(c.data.train_limit, cd.data.train_limit);
  EXPECT_EQ(c.model.arch, cd.model.arch);
  EXPECT_EQ(c.model.mlp_hidden, cd.model.mlp_hidden);
  EXPECT_EQ(c.model.vit_patch, cd.model.vit_patch);
  EXPECT_EQ(c.base.epochs, cd.base.epochs);
  EXPECT_EQ(c.base.batch, cd.base.batch);
  EXPECT_EQ(c.base.optimizer, cd.base.optimizer);
  EXPECT_DOUBLE_EQ(c.base.lr, cd.base.lr);
  EXPECT_DOUBLE_EQ(c.base.momentum, cd.base.momentum);
  EXPECT_DOUBLE_EQ(c.base.weight_decay, cd.base.weight_decay);
  EXPECT_EQ(c.zoo.select, cd.zoo.select);
  EXPECT_EQ(c.zoo.k, cd.zoo.k);
  EXPECT_EQ(c.zoo.mode, cd.zoo.mode);
  EXPECT_EQ(c.zoo.optimizer, cd.zoo.optimizer);
  EXPECT_DOUBLE_EQ(c.zoo.lr, cd.zoo.lr);
  EXPECT_DOUBLE_EQ(c.zoo.weight_decay, cd.zoo.weight_decay);
  EXPECT_EQ(c.zoo.batch, cd.zoo.batch);
  EXPECT_EQ(c.zoo.run_iters, cd.zoo.run_iters);
  EXPECT_DOUBLE_EQ(c.zoo.init_noise, cd.zoo.init_noise);
  const TrainOptions t = train_options(defaults), td;
  EXPECT_EQ(t.ae.kind, td.ae.kind);
  EXPECT_EQ(t.ae.channels, td.ae.channels);
  EXPECT_EQ(t.ae.kernel, td.ae.kernel);
  EXPECT_EQ(t.ae.latent, td.ae.latent);
  EXPECT_EQ(t.ae.token_size, td.ae.token_size);
  EXPECT_EQ(t.ae.token_hidden, td.ae.token_hidden);
  EXPECT_EQ(t.ae.token_latent, td.ae.token_latent);
  EXPECT_DOUBLE_EQ(t.ae.input_noise, td.ae.input_noise);
  EXPECT_DOUBLE_EQ(t.ae.latent_noise, td.ae.latent_noise);
  EXPECT_EQ(t.ae.steps, td.ae.steps);
  EXPECT_EQ(t.ae.batch, td.ae.batch);
  EXPECT_DOUBLE_EQ(t.ae.lr, td.ae.lr);
  EXPECT_DOUBLE_EQ(t.ae.weight_decay, td.ae.weight_decay);
  EXPECT_EQ(t.ldm.channels, td.ldm.channels);
  EXPECT_EQ(t.ldm.kernel, td.ldm.kernel);
  EXPECT_EQ(t.ldm.subspace, td.ldm.subspace);
  EXPECT_EQ(t.ldm.position, td.ldm.position);
  EXPECT_EQ(t.ldm.timesteps, td.ldm.timesteps);
  EXPECT_DOUBLE_EQ(t.ldm.beta_start, td.ldm.beta_start);
  EXPECT_DOUBLE_EQ(t.ldm.beta_end, td.ldm.beta_end);
  EXPECT_EQ(t.ldm.steps, td.ldm.steps);
  EXPECT_EQ(t.ldm.batch, td.ldm.batch);
  EXPECT_DOUBLE_EQ(t.ldm.lr, td.ldm.lr);
  EXPECT_DOUBLE_EQ(t.ldm.ema, td.ldm.ema);
  const GenerateOptions g = generate_options(defaults), gd;
  EXPECT_EQ(g.n, gd.n);
  EXPECT_EQ(g.batch, gd.batch);
  EXPECT_EQ(g.sampling.sampler, gd.sampling.sampler);
  EXPECT_EQ(g.sampling.steps, gd.sampling.steps);
  EXPECT_DOUBLE_EQ(g.sampling.eta, gd.sampling.eta);
  EXPECT_EQ(g.sampling.seed, gd.sampling.seed);
  EXPECT_EQ(g.sampling.clip, gd.sampling.clip);
  const EvalOptions e = eval_options(defaults), ed;
  EXPECT_EQ(e.baseline_n, ed.baseline_n);
  EXPECT_EQ(e.nn_k, ed.nn_k);
  EXPECT_EQ(e.tsne, ed.tsne);
  const RunContext r = run_context(defaults), rd;
  EXPECT_EQ(r.dir, rd.dir);
  EXPECT_EQ(r.seed, rd.seed);
}

}  // namespace
}  // namespace pdiff::stage_options_test
