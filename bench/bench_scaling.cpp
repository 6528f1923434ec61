// How the generator and the evaluation scale with D (issue 10): for synthetic zoos of
// D = 10^3 ... 10^7 entries, the token autoencoder's training step (batch 8), the conv
// autoencoder's where it fits, and the evaluation of one whole-MLP model of D weights on 1000
// test images; each D in a fresh process, so its peak RSS (VmHWM) is its own (the token step's
// peak is read before the conv autoencoder runs, whose 64 * D weights dominate). Prints one row
// per D, then the exponent of each cost fitted against D (least squares on log-log).
//   build/bench_scaling [D...]             default: 1000 10000 100000 1000000 10000000
//   build/bench_scaling --one D            one row (what the parent runs per D)
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "bench_util.h"
#include "core/error.h"
#include "core/runtime.h"
#include "gen/autoencoder.h"
#include "gen/token_autoencoder.h"
#include "gen/trainer.h"
#include "models/classifier.h"
#include "zoo/batch_schedule.h"
#include "zoo/tail_evaluator.h"

using namespace pdiff;

namespace {

constexpr int64_t kBatch = 8;
constexpr int64_t kConvMaxDim = 1000000;  // 64 * D weights: 64 M (plus Adam's two copies) here

// Seconds per AdamW step of an autoencoder on a batch that varies along 4 directions.
double step_seconds(ParamAutoencoderImpl& ae, int64_t d) {
  auto x = torch::randn({kBatch, 4}).matmul(torch::randn({4, d}));
  torch::optim::AdamW opt(ae.parameters(), torch::optim::AdamWOptions(1e-3));
  auto gen = make_generator(0);
  return bench::time_per_call([&] {
    auto loss = torch::mse_loss(ae.forward_noisy(x, gen), x);
    opt.zero_grad();
    loss.backward();
    opt.step();
  }, 1.0);
}

// One row: D, token step, token weights, conv step (or -), eval per model, peak RSS.
int run_one(int64_t d) {
  torch::manual_seed(0);
  (torch::ones({8, 8}).matmul(torch::ones({8, 8}))).sum().item<float>();  // LibTorch's own start-up
  const double start_rss = peak_resident_mb();
  TokenAutoencoderConfig tc;
  tc.tensor_sizes = {d};
  tc.hidden = 128;
  TokenAutoencoder tokens(tc);
  const double token_step = step_seconds(*tokens, d);
  const double token_rss = peak_resident_mb() - start_rss;  // before the conv autoencoder's own peak
  double conv_step = NAN;
  if (d <= kConvMaxDim) {
    AutoencoderConfig cc;
    cc.channels = {16, 32, 64, 64, 16};  // ae.channels' default
    cc.dim = (d + 31) / 32 * 32;
    Autoencoder conv(cc);
    conv_step = step_seconds(*conv, cc.dim);
  }
  // A whole MLP 784-h-10 with about D weights, evaluated on 1000 images (the full forward:
  // every weight is selected).
  ClassifierSpec spec;
  spec.arch = "mlp";
  spec.in_channels = 1;
  spec.image_size = 28;
  spec.num_classes = 10;
  spec.mlp_hidden = {std::max<int64_t>(1, d / 795)};
  Classifier mlp = make_classifier(spec);
  ParamLayout layout = ParamLayout::of(mlp, select_parameters(mlp, "all"));
  Dataset test{torch::randn({1000, 1, 28, 28}), torch::randint(0, 10, {1000}, torch::kInt64)};
  TailEvaluator eval(mlp, layout, test);
  auto params = layout.flatten(mlp).unsqueeze(0).repeat({4, 1});
  const double eval_model = bench::time_per_call([&] { eval.evaluate(params); }, 1.0) / 4;
  std::printf("%lld %.6f %lld %.6f %.6f %.1f %.1f\n", static_cast<long long>(d), token_step,
              static_cast<long long>(parameter_count(*tokens)), conv_step, eval_model, peak_resident_mb(), token_rss);
  return 0;
}

// Least-squares slope of log(y) against log(x), over the points with x >= from.
double exponent(const std::vector<double>& x, const std::vector<double>& y, double from = 0) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  int n = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(y[i]) || y[i] <= 0 || x[i] < from) continue;
    const double lx = std::log(x[i]), ly = std::log(y[i]);
    sx += lx, sy += ly, sxx += lx * lx, sxy += lx * ly, ++n;
  }
  return n < 2 ? NAN : (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

}  // namespace

int main(int argc, char** argv) {
  init_runtime(argc, argv);  // as every pdiff program: the allocator keeps freed memory
  if (argc == 3 && std::string(argv[1]) == "--one") return run_one(std::atoll(argv[2]));
  std::vector<int64_t> dims;
  for (int i = 1; i < argc; ++i) dims.push_back(std::atoll(argv[i]));
  if (dims.empty()) dims = {1000, 10000, 100000, 1000000, 10000000};
  std::printf("token autoencoder (ae.token_size 256, ae.token_hidden 128, ae.token_latent 8) and conv autoencoder\n"
              "(ae.channels 16,32,64,64,16, latent 128): one AdamW step on a batch of %lld; evaluation: a whole MLP\n"
              "of about D weights on 1000 images, per model; peak RSS of the process that measured the row\n\n",
              static_cast<long long>(kBatch));
  std::printf("| D | token step (s) | token weights | conv step (s) | eval per model (s) | peak RSS (MB) | "
              "token step's peak above start-up (MB) |\n|---:|---:|---:|---:|---:|---:|---:|\n");
  std::vector<double> x, token, conv, eval, rss;
  for (int64_t d : dims) {
    const std::string cmd = "/proc/" + std::to_string(getpid()) + "/exe --one " + std::to_string(d);
    FILE* p = popen(cmd.c_str(), "r");
    check(p != nullptr, "bench_scaling: cannot run " + cmd);
    long long dd = 0, w = 0;
    double t = NAN, c = NAN, e = NAN, r = NAN, added = NAN;
    const int got = std::fscanf(p, "%lld %lf %lld %lf %lf %lf %lf", &dd, &t, &w, &c, &e, &r, &added);
    const int rc = pclose(p);
    check(got == 7 && rc == 0, "bench_scaling: the run for D = " + std::to_string(d) + " failed");
    char conv_text[32] = "-";
    if (std::isfinite(c)) std::snprintf(conv_text, sizeof conv_text, "%.4f", c);
    std::printf("| %lld | %.4f | %lld | %s | %.4f | %.0f | %.0f |\n", dd, t, w, conv_text, e, r, added);
    std::fflush(stdout);
    x.push_back(double(d)), token.push_back(t), conv.push_back(c), eval.push_back(e), rss.push_back(added);
  }
  // At small D fixed costs (LibTorch's start-up, per-call overheads) dominate; the exponent
  // over D >= 10^5 is the one that says how the cost grows.
  std::printf("\nfitted exponent against D (target <= 1.1), all D / D >= 1e5: token step %.2f / %.2f, conv step "
              "%.2f / %.2f, eval per model %.2f / %.2f, token step's peak RSS above start-up %.2f / %.2f\n",
              exponent(x, token), exponent(x, token, 1e5), exponent(x, conv), exponent(x, conv, 1e5),
              exponent(x, eval), exponent(x, eval, 1e5), exponent(x, rss), exponent(x, rss, 1e5));
  return 0;
}
