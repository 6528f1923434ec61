// Speed of the generative stages on this machine, in one run:
//   GEMM ceiling (2048^2 matmul), autoencoder and denoiser training steps/s with achieved
//   GFLOP/s, and models/s of batched DDIM-50 against one-at-a-time DDPM-1000 (official way).
// With a trained run directory (ae.pt, ldm.pt, zoo.pt, base.pt) it also compares the mean test
// accuracy of models from both samplers.
// Usage: bench_generative [section.key=value ...]   (e.g. run_dir=runs/fmnist-convnet4 threads=2)
#include <torch/torch.h>

#include <cstdio>
#include <thread>

#include "bench_util.h"
#include "core/config.h"
#include "io/file_io.h"
#include "core/progress.h"
#include "core/runtime.h"
#include "run/stage_options.h"
#include "gen/autoencoder.h"
#include "gen/denoiser.h"
#include "gen/diffusion.h"
#include "gen/model_files.h"
#include "zoo/batch_schedule.h"
#include "zoo/tail_evaluator.h"
#include "zoo/zoo_file.h"

using namespace pdiff;
using bench::gemm_ceiling;
using bench::time_per_call;

int main(int argc, char** argv) {
  init_runtime(argc, argv);
  try {
    std::vector<std::string> overrides(argv + 1, argv + argc);
    Config cfg = Config::load("", overrides);
    open_run_context(cfg);
    torch::manual_seed(0);
    std::printf("threads: %d, OMP_WAIT_POLICY=%s\n", torch::get_num_threads(), std::getenv("OMP_WAIT_POLICY"));
    const double ceiling = gemm_ceiling();
    std::printf("GEMM ceiling (2048^2 fp32 matmul): %.1f GFLOP/s\n", ceiling);

    // Autoencoder training step on D = 768 (the benchmark task), batch ae.batch.
    AutoencoderConfig ac = autoencoder_config(train_options(cfg).ae, 768);
    Autoencoder ae(ac);
    torch::optim::AdamW ae_opt(ae->parameters(), torch::optim::AdamWOptions(1e-4));
    auto x = torch::randn({cfg.i("ae.batch"), ac.dim});
    auto gen = make_generator(0);
    double t_ae = time_per_call([&] {
      auto loss = torch::mse_loss(ae->forward_noisy(x, gen), x);
      ae_opt.zero_grad();
      loss.backward();
      ae_opt.step();
    });
    double ae_gflops = 3 * ae->flops_per_sample() * x.size(0) / t_ae / 1e9;  // fwd + 2x bwd
    std::printf("autoencoder step (channels %s, batch %lld): %.1f steps/s, %.1f GFLOP/s = %.0f %% of GEMM ceiling\n",
                cfg.s("ae.channels").c_str(), (long long)x.size(0), 1 / t_ae, ae_gflops, 100 * ae_gflops / ceiling);

    // Denoiser training step.
    DenoiserConfig dc = denoiser_config(train_options(cfg).ldm, cfg.i("zoo.k"), cfg.i("ae.latent"));
    Denoiser den(dc);
    torch::optim::AdamW den_opt(den->parameters(), torch::optim::AdamWOptions(1e-4));
    auto sched = NoiseSchedule::linear(cfg.i("ldm.timesteps"), cfg.f("ldm.beta_start"), cfg.f("ldm.beta_end"));
    auto z = torch::randn({cfg.i("ldm.batch"), dc.length});
    DenoiseFn fn = [&](const torch::Tensor& xt, const torch::Tensor& t) { return den->forward(xt, t); };
    double t_den = time_per_call([&] {
      auto t = torch::randint(0, sched.timesteps, {z.size(0)}, torch::kInt64);
      auto loss = ddpm_loss(sched, fn, z, t, torch::randn_like(z));
      den_opt.zero_grad();
      loss.backward();
      den_opt.step();
    });
    double den_gflops = 3 * den->flops_per_sample() * z.size(0) / t_den / 1e9;
    std::printf("denoiser step (channels %s, batch %lld): %.1f steps/s, %.1f GFLOP/s = %.0f %% of GEMM ceiling\n",
                cfg.s("ldm.channels").c_str(), (long long)z.size(0), 1 / t_den, den_gflops, 100 * den_gflops / ceiling);

    // Sampling speed: trained models if the run directory has them, else these random ones.
    const std::string dir = cfg.s("run_dir");
    const bool trained = file_exists(dir + "/ae.pt") && file_exists(dir + "/ldm.pt") && file_exists(dir + "/zoo.pt");
    AeModel aem;
    LdmModel ldm;
    if (trained) {
      aem = load_ae(dir + "/ae.pt");
      ldm = load_ldm(dir + "/ldm.pt");
    } else {
      Zoo fake;
      aem.kind = "conv";
      aem.net = ae.ptr();
      aem.standardizer = Standardizer(torch::randn({4, 768}), ParamLayout(), 1);
      ldm.ema = den;
      ldm.schedule = sched;
    }
    aem.net->eval();
    ldm.ema->eval();
    const int64_t n_batched = 100, n_single = trained ? 10 : 2;
    SamplingOptions ddim{"ddim", 50, 0.0, 1};
    SamplingOptions ddpm{"ddpm", 0, 0.0, 1};
    Stopwatch w1;
    torch::Tensor p_ddim = sample_parameters(aem, ldm, ddim, 0, n_batched);
    double ddim_rate = n_batched / w1.seconds();
    Stopwatch w2;
    std::vector<torch::Tensor> singles;
    {
      Progress progress("DDPM-1000 x1", n_single, "models");
      for (int64_t i = 0; i < n_single; ++i) singles.push_back(sample_parameters(aem, ldm, ddpm, i, 1)), progress.tick();
    }
    double ddpm_rate = n_single / w2.seconds();
    std::printf("sampling: batched DDIM-50 (%lld models) %.2f models/s; one-at-a-time DDPM-1000 %.3f models/s; "
                "speed-up %.0fx (target >= 50x)\n",
                (long long)n_batched, ddim_rate, ddpm_rate, ddim_rate / ddpm_rate);
    if (trained) {
      Zoo zoo = load_zoo(dir + "/zoo.pt");
      DataSplits data = load_dataset(data_options(cfg));
      TailEvaluator ev(load_base(dir + "/base.pt", classifier_spec(model_options(cfg), data)), zoo.layout, data.test);
      auto a1 = ev.evaluate(p_ddim).accuracy;
      auto a2 = ev.evaluate(torch::cat(singles)).accuracy;
      std::printf("accuracy: DDIM-50 mean %.2f %% (n=%lld), DDPM-1000 mean %.2f %% (n=%lld), difference %.2f points "
                  "(target <= 0.2)\n",
                  a1.mean().item<double>(), (long long)n_batched, a2.mean().item<double>(), (long long)n_single,
                  a1.mean().item<double>() - a2.mean().item<double>());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_generative: %s\n", e.what());
    return 1;
  }
  return 0;
}
