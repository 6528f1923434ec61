// Tail-only evaluation against the full forward pass, per architecture, in one run: seconds
// per model on N test-sized images (1x28x28, as Fashion-MNIST) with the default selection
// (zoo.select=auto), the speed-up, and whether the predictions are identical. For ResNet-18
// (layer4.1.bn1/bn2) it also prints the tail's compute floor: its one convolution
// (layer4.1.conv2, 512x512x3x3 on a 4x4 map) at the GEMM ceiling, direct and Winograd.
// An entry torchscript:FILE measures a TorchScript module (model.arch=torchscript), whose
// tail is the part of its forward after the first use of a selected tensor
// (models/torchscript_split.h); docs/benchmarks.md says how to write such files.
// Usage: bench_tail [N=2000] [archs=mlp,convnet4,resnet18,resnet50,vit_tiny,convnext_tiny,torchscript:FILE]
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "bench_util.h"
#include "core/config.h"
#include "core/runtime.h"
#include "run/stage_options.h"
#include "models/classifier.h"
#include "zoo/layout.h"
#include "zoo/tail_evaluator.h"

using namespace pdiff;

namespace {

// A model whose batch norms hold non-trivial running statistics.
Classifier make_model(const ClassifierSpec& spec) {
  torch::manual_seed(0);
  Classifier m = make_classifier(spec);
  m->train();
  torch::NoGradGuard ng;
  for (int i = 0; i < 2; ++i) m->forward(m->prepare_input(torch::randn({16, 1, 28, 28}) * 1.5 + 0.3));
  m->eval();
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  init_runtime(argc, argv);
  try {
    int64_t n = 2000;
    std::string archs = "mlp,convnet4,resnet18,resnet50,vit_tiny,convnext_tiny";
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("N=", 0) == 0) n = std::atoll(a.c_str() + 2);
      else if (a.rfind("archs=", 0) == 0) archs = a.substr(6);
      else throw std::runtime_error("unknown argument '" + a + "'; use N=... or archs=...");
    }
    Config cfg;
    open_run_context(cfg);  // all cores
    std::printf("threads: %d, %lld test images (1x28x28)\n", torch::get_num_threads(), (long long)n);
    const double ceiling = bench::gemm_ceiling();
    std::printf("GEMM ceiling (2048^2 fp32 matmul): %.1f GFLOP/s\n\n", ceiling);
    std::printf("| arch | selection (auto) | D | tail from stage | fast tail | tail s/model | full s/model | speed-up | identical |\n");
    std::printf("|---|---|---:|---:|---|---:|---:|---:|---|\n");
    torch::manual_seed(1);
    Dataset test{torch::randn({n, 1, 28, 28}), torch::randint(0, 10, {n}, torch::kInt64)};
    std::stringstream list(archs);
    std::string arch;
    while (std::getline(list, arch, ',')) {
      ClassifierSpec spec;
      spec.arch = arch;
      if (arch.rfind("torchscript:", 0) == 0) spec.arch = "torchscript", spec.file = arch.substr(12);
      Classifier model = make_model(spec);
      ParamLayout layout = ParamLayout::of(model, select_parameters(model, "auto"));
      auto base = layout.flatten(model);
      auto params = torch::stack({base, base * 1.01, base * 0.99});
      TailEvaluator tail(clone_classifier(model, spec), layout, test);
      const double t_tail = bench::time_per_call([&] { tail.evaluate(params); }, 3.0) / params.size(0);
      TailEvaluator full(clone_classifier(model, spec), layout, test, /*full_forward=*/true);
      Stopwatch w;
      auto r_full = full.evaluate(params.slice(0, 0, 1));
      const double t_full = w.seconds();
      const bool same = torch::equal(tail.evaluate(params.slice(0, 0, 1)).predictions, r_full.predictions);
      std::string first = layout.entries().front().name;
      std::printf("| %s | %s ... | %lld | %lld | %s | %.4f | %.3f | %.0fx | %s |\n", arch.c_str(), first.c_str(),
                  (long long)layout.dim(), (long long)tail.tail_start(), tail.uses_fast_tail() ? "yes" : "no",
                  t_tail, t_full, t_full / t_tail, same ? "yes" : "NO");
      if (arch == "resnet18") {
        // The floors: layer4.1.conv2 on (N, 512, 4, 4), 3x3 padding 1, at the GEMM ceiling:
        // direct 2 * 512 * 512 * 9 * 16 FLOP an image; Winograd F(4x4, 3x3) 36 products of 512 x 512.
        const double direct = 2.0 * 512 * 512 * 9 * 16 * n / 1e9, winograd = 2.0 * 512 * 512 * 36 * n / 1e9;
        auto x = torch::randn({n, 512, 4, 4}).contiguous(torch::MemoryFormat::ChannelsLast);
        auto conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(512, 512, 3).padding(1).bias(false));
        conv->weight.set_data(conv->weight.contiguous(torch::MemoryFormat::ChannelsLast));
        torch::NoGradGuard ng;
        const double t_conv = bench::time_per_call([&] { conv(x); }, 3.0);
        std::printf("\nresnet18 tail floor (layer4.1.conv2 at the GEMM ceiling): direct %.1f GFLOP = %.3f s/model, "
                    "Winograd %.1f GFLOP = %.3f s/model; oneDNN's direct conv alone %.3f s (%.0f GFLOP/s); the tail "
                    "(Winograd, everything included) %.3f s = %.0f %% of the Winograd floor's speed\n\n",
                    direct, direct / ceiling, winograd, winograd / ceiling, t_conv, direct / t_conv, t_tail,
                    100.0 * winograd / ceiling / t_tail);
      }
      std::fflush(stdout);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_tail: %s\n", e.what());
    return 1;
  }
}
