// The evaluation path a GPU takes (LibTorch's ops, zoo/tail_evaluator.h) with one model a pass
// against several models a pass (their activations stacked along the batch between the stages
// that use selected parameters): seconds per model, the ratio, and whether the predictions are
// the same, per architecture with the default selection, on the chosen device.
// Usage: bench_passes [N=2000] [M=16] [per_pass=16] [device=cpu|cuda] [archs=mlp,convnet4,...]
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "bench_util.h"
#include "core/runtime.h"
#include "kernels/dispatch.h"
#include "models/classifier.h"
#include "zoo/layout.h"
#include "zoo/tail_evaluator.h"

using namespace pdiff;

int main(int argc, char** argv) {
  init_runtime(argc, argv);
  try {
    int64_t n = 2000, m = 16, per_pass = 16;
    std::string archs = "mlp,convnet4,resnet18,vit_tiny,convnext_tiny", device_name = "cpu";
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a.rfind("N=", 0) == 0) n = std::atoll(a.c_str() + 2);
      else if (a.rfind("M=", 0) == 0) m = std::atoll(a.c_str() + 2);
      else if (a.rfind("per_pass=", 0) == 0) per_pass = std::atoll(a.c_str() + 9);
      else if (a.rfind("device=", 0) == 0) device_name = a.substr(7);
      else if (a.rfind("archs=", 0) == 0) archs = a.substr(6);
      else throw std::runtime_error("unknown argument '" + a + "'; use N=, M=, per_pass=, device= or archs=");
    }
    const torch::Device device(device_name);
    set_kernel_choice(KernelChoice::Generic);  // the GPU's path, on any device
    std::printf("device %s, threads %d, %lld test images (1x28x28), %lld models\n\n", device_name.c_str(),
                torch::get_num_threads(), (long long)n, (long long)m);
    std::printf("| arch | D | 1 a pass, s/model | %lld a pass, s/model | speed-up | same predictions |\n",
                (long long)per_pass);
    std::printf("|---|---:|---:|---:|---:|---|\n");
    torch::manual_seed(1);
    Dataset test{torch::randn({n, 1, 28, 28}), torch::randint(0, 10, {n}, torch::kInt64)};
    std::stringstream list(archs);
    std::string arch;
    while (std::getline(list, arch, ',')) {
      ClassifierSpec spec;
      spec.arch = arch;
      torch::manual_seed(0);
      Classifier model = make_classifier(spec);
      model->to(device);
      model->eval();
      ParamLayout layout = ParamLayout::of(model, select_parameters(model, "auto"));
      auto base = layout.flatten(model).cpu();
      auto params = base.unsqueeze(0) * (1 + 0.02 * torch::randn({m, 1}));
      TailEvaluator one(clone_classifier(model, spec), layout, test, false, 500, 1);
      TailEvaluator many(clone_classifier(model, spec), layout, test, false, 500, per_pass);
      EvalResult a, b;
      const double t_one = bench::time_per_call([&] { a = one.evaluate(params); }, 2.0) / m;
      const double t_many = bench::time_per_call([&] { b = many.evaluate(params); }, 2.0) / m;
      std::printf("| %s | %lld | %.4f | %.4f | %.2fx | %s |\n", arch.c_str(), (long long)layout.dim(), t_one, t_many,
                  t_one / t_many, torch::equal(a.predictions, b.predictions) ? "yes" : "NO");
      std::fflush(stdout);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_passes: %s\n", e.what());
    return 1;
  }
}
