// Training step of a scripted ConvNet-4 (model.arch=torchscript) against the built-in one, in one
// run, interleaved: ms per step (forward + backward + optimizer step, batch base.batch / zoo.batch)
// of the base step (whole network, SGD) and of the zoo step (the last two batch norms trained,
// AdamW; as zoo/collect.cpp, the stages before the first trained one run without a graph, and a
// scripted module is one stage), each variant starting from the same weights:
//   built-in       models/convnet4.h as pdiff trains it: hand-written kernels, the batch split over
//                  one-core workers (zoo/split_batch_step.h), channels-last
//   generic        the same stages from torch::nn modules and LibTorch operators only (the fallbacks
//                  convnet4.cpp names), one pass on all threads; channels-last as the built-in, and NCHW
//   scripted       the same network as a TorchScript module with torch.nn's module types and names,
//                  defined from C++ (no Python), trained through models/torchscript.h as pdiff does
//                  (channels-last 4-D weights, since its forward accepts them: make_classifier
//                  converts them)
// Not a test of correctness beyond a check that the variants compute the same logits.
// Usage: bench_torchscript [reps=8] [block=10] [warmup=20] [script=PATH] [section.key=value ...]
//   script=PATH times that TorchScript file instead of the C++-defined module (e.g. ConvNet4 of
//   tests/python/pdiff_models.py saved with torch.jit.script); it must have the built-in's names.
#include <torch/script.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <functional>
#include <map>
#include <unistd.h>

#include "core/config.h"
#include "core/error.h"
#include "zoo/optim.h"
#include "core/progress.h"
#include "core/runtime.h"
#include "run/stage_options.h"
#include "zoo/batch_schedule.h"
#include "zoo/layout.h"
#include "zoo/split_batch_step.h"
#include "zoo/zoo_file.h"

using namespace pdiff;

namespace {

// ConvNet-4 from generic LibTorch operators: what models/convnet4.cpp computes without its
// kernels (conv1 as torch::nn::Conv2d, BN -> max-pool -> ReLU, bn4 as torch::nn::BatchNorm2d),
// with the same stages, parameter names and order, so the zoo step's frozen prefix is the same.
class GenericConvNet4Impl : public ClassifierImpl {
 public:
  explicit GenericConvNet4Impl(const ClassifierSpec& spec) {
    const int64_t c[] = {spec.in_channels, 32, 64, 128, 256};
    for (int i = 0; i < 4; ++i) {
      const std::string n = std::to_string(i + 1);
      conv[i] = register_module("conv" + n, torch::nn::Conv2d(torch::nn::Conv2dOptions(c[i], c[i + 1], 3)
                                                                  .padding(1).bias(false)));
      bn[i] = register_module("bn" + n, torch::nn::BatchNorm2d(c[i + 1]));
    }
    fc = register_module("fc", torch::nn::Linear(c[4], spec.num_classes));
  }
  int64_t num_stages() const override { return 9; }
  torch::Tensor forward_stage(int64_t i, torch::Tensor x) override {
    if (i == 8) return fc(x);                                                      // (B, classes)
    if (i % 2 == 0) return conv[i / 2](x);                                         // conv1..conv4
    if (i == 7) return torch::relu(bn[3](x)).mean({2, 3});                         // (B, 256)
    return torch::relu(torch::max_pool2d(bn[i / 2](x), 2));                        // bn1..bn3
  }
  std::vector<std::string> stage_params(int64_t i) const override {
    return {(i == 8 ? std::string("fc") : (i % 2 ? "bn" : "conv") + std::to_string(i / 2 + 1)) + "."};
  }

 private:
  torch::nn::Conv2d conv[4] = {nullptr, nullptr, nullptr, nullptr};
  torch::nn::BatchNorm2d bn[4] = {nullptr, nullptr, nullptr, nullptr};
  torch::nn::Linear fc{nullptr};
};

// TorchScript sources of torch.nn's Conv2d (3x3, padding 1, no bias), BatchNorm2d (momentum 0.1,
// eps 1e-5, counting batches as torch.nn's does) and Linear, and of ConvNet-4's forward.
const char* kConv = R"(
def forward(self, x: Tensor) -> Tensor:
    return torch.conv2d(x, self.weight, None, [1, 1], [1, 1], [1, 1], 1)
)";
const char* kBatchNorm = R"(
def forward(self, x: Tensor) -> Tensor:
    if self.training:
        self.num_batches_tracked.add_(1)
    return torch.batch_norm(x, self.weight, self.bias, self.running_mean, self.running_var,
                            self.training, 0.1, 1e-05, True)
)";
const char* kLinear = R"(
def forward(self, x: Tensor) -> Tensor:
    return torch.linear(x, self.weight, self.bias)
)";
const char* kConvNet4 = R"(
def forward(self, x: Tensor) -> Tensor:
    x = torch.relu(torch.max_pool2d(self.bn1.forward(self.conv1.forward(x)), [2, 2]))
    x = torch.relu(torch.max_pool2d(self.bn2.forward(self.conv2.forward(x)), [2, 2]))
    x = torch.relu(torch.max_pool2d(self.bn3.forward(self.conv3.forward(x)), [2, 2]))
    x = torch.relu(self.bn4.forward(self.conv4.forward(x))).mean([2, 3])
    return self.fc.forward(x)
)";

// ConvNet-4 as a TorchScript module (as torch.jit.script writes tests/python/pdiff_models.py's
// ConvNet4, pooling before the ReLU as the built-in does), holding copies of `from`'s tensors.
torch::jit::Module scripted_convnet4(const Classifier& from) {
  std::map<std::string, torch::Tensor> state;
  for (const auto& [name, t] : state_dict(from)) state[name] = t.detach().contiguous().clone();
  auto cu = std::make_shared<torch::jit::CompilationUnit>();
  // One class per module type, shared by its instances; members are `name`.* of the state dict.
  auto make = [&](const std::string& type, const std::string& source, const std::string& name,
                  const std::vector<std::string>& params, const std::vector<std::string>& buffers) {
    const c10::QualifiedName qualified("__torch__.torch.nn.modules." + type);
    auto cls = cu->get_class(qualified);
    torch::jit::Module m = cls ? torch::jit::Module(cu, cls) : torch::jit::Module(qualified, cu);
    m.register_attribute("training", c10::BoolType::get(), true);
    for (const auto& p : params)  // trainable, as torch.nn.Parameter (torch::jit::load keeps the flag)
      m.register_parameter(p, state.at(name + "." + p).requires_grad_(), /*is_buffer=*/false);
    for (const auto& b : buffers) m.register_buffer(b, state.at(name + "." + b));
    if (!cls) m.define(source);
    return m;
  };
  torch::jit::Module top(c10::QualifiedName("__torch__.ConvNet4"), cu);
  top.register_attribute("training", c10::BoolType::get(), true);
  for (int i = 1; i <= 4; ++i) {
    const std::string n = std::to_string(i);
    top.register_module("conv" + n, make("conv.Conv2d", kConv, "conv" + n, {"weight"}, {}));
    top.register_module("bn" + n, make("batchnorm.BatchNorm2d", kBatchNorm, "bn" + n, {"weight", "bias"},
                                       {"running_mean", "running_var", "num_batches_tracked"}));
  }
  top.register_module("fc", make("linear.Linear", kLinear, "fc", {"weight", "bias"}, {}));
  top.define(kConvNet4);
  return top;
}

// One variant being timed: its own model, optimizer and step.
struct Variant {
  std::string name;
  Classifier model;
  std::function<torch::Tensor(const torch::Tensor&)> input;  // the images as the variant receives them
  std::unique_ptr<SplitBatchStep> split;
  std::unique_ptr<Optimizer> opt;
  int64_t tail = 0;  // zoo step: the first stage with a trained parameter (the prefix runs without a graph)
  double lr = 0;
  double first_ms = 0;
  std::vector<double> ms, cpu_ms;  // per block: wall and process CPU ms a step

  void step(const torch::Tensor& x, const torch::Tensor& y) {
    opt->zero_grad();
    const int64_t t = tail;
    split->run(input(x), y, [t](ClassifierImpl& m, const torch::Tensor& images) {
      torch::Tensor h = images;
      if (t > 0) {
        torch::NoGradGuard ng;
        h = m.forward_range(images, 0, t);
      }
      return m.forward_range(h, t, m.num_stages());
    });
    opt->step(lr);
  }
};

// CPU time of the whole process (every thread): the work a step does, whatever else the
// machine runs (the workers and OpenMP threads wait passively, runtime.h).
double cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  init_runtime(argc, argv);
  try {
    int64_t reps = 8, block = 10, warmup = 20;
    std::string script_file;
    std::vector<std::string> overrides;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a.rfind("reps=", 0) == 0) reps = std::atoll(a.c_str() + 5);
      else if (a.rfind("block=", 0) == 0) block = std::atoll(a.c_str() + 6);
      else if (a.rfind("warmup=", 0) == 0) warmup = std::atoll(a.c_str() + 7);
      else if (a.rfind("script=", 0) == 0) script_file = a.substr(7);
      else overrides.push_back(a);
    }
    Config cfg = Config::load("", overrides);  // the benchmark task's recipe
    open_run_context(cfg);
    DataSplits data = load_dataset(data_options(cfg));
    ClassifierSpec spec = classifier_spec(model_options(cfg), data);
    check(spec.arch == "convnet4", "bench_torchscript: times ConvNet-4 only (model.arch=convnet4)");

    torch::manual_seed(cfg.i("seed"));
    const Classifier init = make_classifier(spec);
    ClassifierSpec script_spec = spec;
    script_spec.arch = "torchscript";
    script_spec.file = script_file;
    if (script_file.empty()) {
      script_spec.file = "/tmp/pdiff_bench_torchscript_" + std::to_string(getpid()) + ".pt";
      scripted_convnet4(init).save(script_spec.file);
    }
    // The variants: built-in, generic or scripted, and whether inputs and 4-D weights are channels-last.
    // (Channels-last inputs alone change nothing: a one-channel image is both layouts, so LibTorch's
    // convolutions take it as NCHW; the built-ins' weights, converted by make_classifier, decide.)
    struct Kind {
      std::string name, model;
      bool channels_last;
    };
    const std::vector<Kind> kinds = {{"built-in", "built-in", true},
                                     {"generic, channels-last", "generic", true},
                                     {"generic, NCHW", "generic", false},
                                     {"scripted (as pdiff runs it)", "scripted", true}};
    // A fresh model of a kind with the initial weights, in training mode. For the scripted module
    // the conversion reaches the JIT module too: its mirrored parameters are the same tensors.
    auto fresh = [&](const Kind& kind) {
      Classifier m = kind.model == "built-in"   ? make_classifier(spec)
                     : kind.model == "scripted" ? make_classifier(script_spec)
                                                : std::make_shared<GenericConvNet4Impl>(spec);
      load_state_dict(m, state_dict(init), "the built-in's initial weights");
      if (kind.channels_last) {
        torch::NoGradGuard ng;
        for (auto& p : m->parameters())
          if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
      }
      m->train();
      return m;
    };
    auto input = [](const Kind& kind, const torch::Tensor& x) {
      return kind.channels_last ? x.contiguous(torch::MemoryFormat::ChannelsLast) : x.contiguous();
    };

    // 16 batches of the training set (augmented as in training), used in turn.
    auto first_batches = [&](int64_t batch) {
      BatchSchedule schedule(data, batch, cfg.i("seed"));
      std::vector<std::pair<torch::Tensor, torch::Tensor>> out;
      for (int64_t i = 0; i < 16; ++i) out.push_back(schedule.batch(i));
      return out;
    };

    // Same network: equal parameter names and logits on one batch (training mode, batch statistics).
    {
      std::vector<std::string> names;
      for (const auto& [n, t] : state_dict(init)) names.push_back(n);
      const auto x = first_batches(cfg.i("base.batch"))[0].first;
      torch::NoGradGuard ng;
      const auto ref = fresh(kinds[0])->forward(input(kinds[0], x));
      for (size_t k = 1; k < kinds.size(); ++k) {
        Classifier m = fresh(kinds[k]);
        std::vector<std::string> mine;
        for (const auto& [n, t] : state_dict(m)) mine.push_back(n);
        const std::string what = "bench_torchscript: the model '" + kinds[k].name + "' ";
        check(mine == names, what + "has other tensor names than the built-in");
        const double diff = (m->forward(input(kinds[k], x)) - ref).abs().max().item<double>();
        std::printf("check: %s logits vs built-in, largest difference %.2g\n", kinds[k].name.c_str(), diff);
        check(diff < 1e-3, what + "computes other logits than the built-in");
      }
    }

    std::printf("threads: %d, batch %lld (base) / %lld (zoo), %lld warm-up steps, %lld blocks of %lld steps each, "
                "interleaved\n", torch::get_num_threads(), (long long)cfg.i("base.batch"), (long long)cfg.i("zoo.batch"),
                (long long)warmup, (long long)reps, (long long)block);
    for (const bool zoo : {false, true}) {
      const auto batches = first_batches(cfg.i(zoo ? "zoo.batch" : "base.batch"));
      std::vector<Variant> vs;
      for (const Kind& kind : kinds) {
        Variant v;
        v.name = kind.name;
        v.model = fresh(kind);
        v.input = [&input, kind](const torch::Tensor& x) { return input(kind, x); };
        std::vector<torch::Tensor> params;
        if (zoo) {
          for (auto& p : v.model->parameters()) p.set_requires_grad(false);
          ParamLayout layout = ParamLayout::of(v.model, select_parameters(v.model, cfg.s("zoo.select")));
          params = layout.tensors(v.model);
          for (auto& p : params) p.set_requires_grad(true);
          v.tail = v.model->first_stage_using(layout.names());
          v.opt = std::make_unique<AdamW>(params, cfg.f("zoo.weight_decay"));
          v.lr = cfg.f("zoo.lr");
        } else {
          params = v.model->parameters();
          v.opt = std::make_unique<Sgd>(params, cfg.f("base.momentum"), cfg.f("base.weight_decay"));
          v.lr = cfg.f("base.lr");
        }
        v.split = std::make_unique<SplitBatchStep>(v.model, kind.model == "scripted" ? script_spec : spec,
                                                   split_workers(*v.model, batches[0].first.size(0)));
        vs.push_back(std::move(v));
      }

      int64_t it = 0;
      auto next = [&] { return batches[it++ % batches.size()]; };
      for (auto& v : vs) {
        for (int64_t i = 0; i < warmup; ++i) {
          auto [x, y] = next();
          Stopwatch w;
          v.step(x, y);
          if (i == 0) v.first_ms = 1e3 * w.seconds();
        }
      }
      for (int64_t r = 0; r < reps; ++r) {
        for (size_t k = 0; k < vs.size(); ++k) {
          Variant& v = vs[(k + r) % vs.size()];  // rotate the order: no variant always runs first
          Stopwatch w;
          const double cpu0 = cpu_seconds();
          for (int64_t i = 0; i < block; ++i) {
            auto [x, y] = next();
            v.step(x, y);
          }
          v.ms.push_back(1e3 * w.seconds() / block);
          v.cpu_ms.push_back(1e3 * (cpu_seconds() - cpu0) / block);
        }
      }

      std::printf("\n%s step (%s), ms/step: median of %lld blocks (min - max), CPU ms/step (all threads)\n",
                  zoo ? "zoo" : "base", zoo ? "bn3, bn4 trained, AdamW" : "whole network, SGD", (long long)reps);
      std::printf("| variant | workers | ms/step | min - max | CPU ms/step | first step ms |\n"
                  "|---|---:|---:|---:|---:|---:|\n");
      for (const auto& v : vs)
        std::printf("| %s | %d | %.1f | %.1f - %.1f | %.1f | %.0f |\n", v.name.c_str(), v.split->workers(),
                    median(v.ms), *std::min_element(v.ms.begin(), v.ms.end()),
                    *std::max_element(v.ms.begin(), v.ms.end()), median(v.cpu_ms), v.first_ms);
      // Ratios of the medians, of the best blocks and of CPU time (the last two less sensitive to
      // other processes).
      auto ratio = [&](const char* what, int a, int b, const char* target) {
        const double best_a = *std::min_element(vs[a].ms.begin(), vs[a].ms.end());
        const double best_b = *std::min_element(vs[b].ms.begin(), vs[b].ms.end());
        std::printf("%s: %.2fx (best blocks %.2fx, CPU time %.2fx)%s\n", what, median(vs[a].ms) / median(vs[b].ms),
                    best_a / best_b, median(vs[a].cpu_ms) / median(vs[b].cpu_ms), target);
      };
      ratio("scripted / built-in-generic", 3, 1, " (target <= 1.5x)");
      ratio("scripted / built-in", 3, 0, "");
      ratio("scripted / generic NCHW", 3, 2, "");
      ratio("built-in-generic / built-in", 1, 0, "");
      std::fflush(stdout);
    }
    if (script_file.empty()) std::remove(script_spec.file.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_torchscript: %s\n", e.what());
    return 1;
  }
}
