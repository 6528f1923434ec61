#include "run/stage_options.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "core/error.h"
#include "core/runtime.h"
#include "dist/group.h"
#include "kernels/dispatch.h"

namespace pdiff {

namespace {

std::vector<std::string> extend(std::vector<std::string> keys, std::initializer_list<const char*> more) {
  keys.insert(keys.end(), more.begin(), more.end());
  return keys;
}

// `threads`, unless PDIFF_THREADS is set: one setting for every pdiff a script or a test
// suite starts (scripts/test.sh runs the suite at one and at two threads with it).
int thread_count(const Config& cfg) {
  int64_t n = cfg.i("threads");
  if (const char* env = std::getenv("PDIFF_THREADS"); env != nullptr && *env != '\0') {
    char* end = nullptr;
    const long v = std::strtol(env, &end, 10);
    check(*end == '\0' && v >= 0 && v <= 1024,
          std::string("PDIFF_THREADS = '") + env + "': use a thread count from 0 (all cores) to 1024, or unset it");
    n = v;
  }
  // All cores: divided among the job's processes on this machine (dist/launch.h).
  if (n <= 0) n = std::max<int64_t>(1, std::thread::hardware_concurrency() / dist_launch().local_world);
  return static_cast<int>(n);
}

// The `device` key: auto, cpu, cuda or cuda:N, checked against what this build and machine have.
torch::Device resolve_device(const std::string& word) {
  const bool cuda = torch::cuda::is_available();
  if (word == "auto") return cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (word == "cpu") return torch::kCPU;
  const bool cuda_word = word == "cuda" || (word.rfind("cuda:", 0) == 0 && word.size() > 5 &&
                                            word.find_first_not_of("0123456789", 5) == std::string::npos);
  check(cuda_word, "device = '" + word + "': use auto, cpu, cuda or cuda:N (N a device number)");
  check(cuda, "device = " + word + ": this pdiff sees no CUDA device (" +
                  (at::hasCUDA() ? std::string("none on this machine")
                                 : "it was built against a CPU-only LibTorch: scripts/install.sh --torch PYTHON "
                                   "builds against a PyTorch with CUDA") +
                  "); set device=cpu or device=auto");
  torch::Device device(word);
  const int64_t count = static_cast<int64_t>(torch::cuda::device_count());
  check(!device.has_index() || device.index() < count,
        "device = " + word + ": this machine has " + std::to_string(count) + " CUDA device(s), numbered from 0");
  return device.has_index() ? device : torch::Device(torch::kCUDA, 0);
}

// report.json's "config": every key, typed, nested by section.
nlohmann::json config_json(const Config& cfg) {
  using json = nlohmann::json;
  json out = json::object();
  for (const auto& k : config_keys()) {
    json v;
    switch (k.type) {
      case KeyType::Int: v = cfg.is_word(k.key) ? json(cfg.s(k.key)) : json(cfg.i(k.key)); break;
      case KeyType::Float: v = cfg.f(k.key); break;
      case KeyType::Bool: v = cfg.b(k.key); break;
      case KeyType::String: v = cfg.s(k.key); break;
      case KeyType::IntList: v = cfg.ilist(k.key); break;
    }
    auto dot = k.key.find('.');
    if (dot == std::string::npos) out[k.key] = v;
    else out[k.key.substr(0, dot)][k.key.substr(dot + 1)] = v;
  }
  return out;
}

}  // namespace

const std::vector<std::string>& base_config_keys() {
  static const std::vector<std::string> keys = {"seed", "data.", "model.", "base."};
  return keys;
}
const std::vector<std::string>& collect_config_keys() {
  static const std::vector<std::string> keys = extend(base_config_keys(), {"zoo."});
  return keys;
}
const std::vector<std::string>& ae_config_keys() {
  static const std::vector<std::string> keys = extend(collect_config_keys(), {"recipe", "ae."});
  return keys;
}
const std::vector<std::string>& ldm_config_keys() {
  static const std::vector<std::string> keys = extend(ae_config_keys(), {"ldm."});
  return keys;
}
const std::vector<std::string>& generate_config_keys() {
  static const std::vector<std::string> keys = extend(ldm_config_keys(), {"generate."});
  return keys;
}
const std::vector<std::string>& eval_config_keys() {
  static const std::vector<std::string> keys = extend(generate_config_keys(), {"eval."});
  return keys;
}

std::string stage_fingerprint(const Config& cfg, const std::vector<std::string>& keys) {
  const std::string& precision = cfg.s("precision");
  return cfg.fingerprint(keys) + (precision == "fp32" ? "" : "+precision=" + precision);
}

RunContext run_context(const Config& cfg) {
  RunContext run;
  run.dir = cfg.s("run_dir");
  run.seed = cfg.i("seed");
  run.config_yaml = cfg.to_yaml();
  run.device = resolve_device(cfg.s("device"));
  run.threads = thread_count(cfg);
  run.precision = parse_precision(cfg.s("precision"), "precision");
  return run;
}

void apply_run_context(const RunContext& run) {
  set_cpu_threads(run.threads);
  apply_precision(run.precision);
  std::fprintf(stderr, "device: %s, %d CPU threads, training in %s\n", run.device.str().c_str(), run.threads,
               precision_name(run.precision).c_str());
  // PDIFF_KERNELS=generic: LibTorch's ops only, the path a GPU takes (kernels/dispatch.h).
  if (const char* env = std::getenv("PDIFF_KERNELS"); env != nullptr && *env != '\0') {
    set_kernel_choice(parse_kernel_choice(env, "PDIFF_KERNELS"));
    if (kernel_choice() == KernelChoice::Generic)
      std::fprintf(stderr, "kernels: generic (PDIFF_KERNELS=generic: LibTorch's ops only, no hand-written CPU kernels)\n");
  }
}

RunContext open_run_context(const Config& cfg) {
  RunContext run = run_context(cfg);
  apply_run_context(run);
  return run;
}

DataOptions data_options(const Config& cfg) {
  DataOptions o;
  o.name = cfg.s("data.name");
  o.root = cfg.s("data.root");
  o.file = cfg.s("data.file");
  o.normalize = cfg.s("data.normalize");
  o.num_classes = cfg.i("data.num_classes");
  o.train_limit = cfg.i("data.train_limit");
  o.test_limit = cfg.i("data.test_limit");
  o.augment = cfg.s("data.augment");
  return o;
}

ModelOptions model_options(const Config& cfg) {
  ModelOptions o;
  o.arch = cfg.s("model.arch");
  o.file = cfg.s("model.file");
  o.mlp_hidden = cfg.ilist("model.mlp_hidden");
  o.vit_patch = cfg.i("model.vit_patch");
  return o;
}

CollectOptions collect_options(const Config& cfg) {
  CollectOptions o;
  o.data = data_options(cfg);
  o.model = model_options(cfg);
  BaseOptions& b = o.base;
  b.file = cfg.s("base.file");
  b.epochs = cfg.i("base.epochs");
  b.batch = cfg.i("base.batch");
  b.optimizer = cfg.s("base.optimizer");
  b.lr = cfg.f("base.lr");
  b.momentum = cfg.f("base.momentum");
  b.weight_decay = cfg.f("base.weight_decay");
  b.fingerprint = stage_fingerprint(cfg, base_config_keys());
  ZooOptions& z = o.zoo;
  z.select = cfg.s("zoo.select");
  z.k = cfg.i("zoo.k");
  z.import = cfg.s("zoo.import");
  z.align = cfg.s("zoo.align");
  z.align_batches = cfg.i("zoo.align_batches");
  z.align_rounds = cfg.i("zoo.align_rounds");
  z.import_stats = cfg.s("zoo.import_stats");
  z.mode = cfg.s("zoo.mode");
  z.optimizer = cfg.s("zoo.optimizer");
  z.lr = cfg.f("zoo.lr");
  z.weight_decay = cfg.f("zoo.weight_decay");
  z.batch = cfg.i("zoo.batch");
  z.run_iters = cfg.i("zoo.run_iters");
  z.init_noise = cfg.f("zoo.init_noise");
  o.fingerprint = stage_fingerprint(cfg, collect_config_keys());
  return o;
}

TrainOptions train_options(const Config& cfg) {
  TrainOptions o;
  AeOptions& a = o.ae;
  a.kind = cfg.s("ae.kind");
  a.channels = cfg.ilist("ae.channels");
  a.kernel = cfg.i("ae.kernel");
  a.latent = cfg.i("ae.latent");
  a.token_size = cfg.i("ae.token_size");
  a.token_hidden = cfg.i("ae.token_hidden");
  a.token_latent = cfg.i("ae.token_latent");
  a.input_noise = cfg.f("ae.input_noise");
  a.latent_noise = cfg.f("ae.latent_noise");
  a.steps = cfg.i("ae.steps");
  a.batch = cfg.i("ae.batch");
  a.lr = cfg.f("ae.lr");
  a.weight_decay = cfg.f("ae.weight_decay");
  a.fingerprint = stage_fingerprint(cfg, ae_config_keys());
  LdmOptions& l = o.ldm;
  l.channels = cfg.ilist("ldm.channels");
  l.kernel = cfg.i("ldm.kernel");
  l.subspace = cfg.is_word("ldm.subspace") ? -1 : cfg.i("ldm.subspace");
  l.position = cfg.i("ldm.position");
  l.timesteps = cfg.i("ldm.timesteps");
  l.beta_start = cfg.f("ldm.beta_start");
  l.beta_end = cfg.f("ldm.beta_end");
  l.steps = cfg.i("ldm.steps");
  l.batch = cfg.i("ldm.batch");
  l.lr = cfg.f("ldm.lr");
  l.ema = cfg.f("ldm.ema");
  l.fingerprint = stage_fingerprint(cfg, ldm_config_keys());
  o.zoo_fingerprint = stage_fingerprint(cfg, collect_config_keys());
  return o;
}

GenerateOptions generate_options(const Config& cfg) {
  GenerateOptions o;
  o.data = data_options(cfg);
  o.model = model_options(cfg);
  o.sampling.sampler = cfg.s("generate.sampler");
  o.sampling.steps = cfg.i("generate.steps");
  o.sampling.eta = cfg.f("generate.eta");
  o.sampling.seed = static_cast<uint64_t>(cfg.i("generate.seed"));
  o.sampling.clip = cfg.b("generate.clip");
  o.n = cfg.i("generate.n");
  o.batch = cfg.i("generate.batch");
  o.recalibrate_bn = cfg.i("generate.recalibrate_bn");
  o.repair = cfg.i("generate.repair");
  o.fingerprint = stage_fingerprint(cfg, generate_config_keys());
  return o;
}

ExportOptions export_options(const Config& cfg) { return {data_options(cfg), model_options(cfg)}; }

EvalOptions eval_options(const Config& cfg) {
  EvalOptions o;
  o.data = data_options(cfg);
  o.model = model_options(cfg);
  o.baseline_n = cfg.i("eval.baseline_n");
  o.nn_k = cfg.i("eval.nn_k");
  o.tsne = cfg.b("eval.tsne");
  o.recalibrate_bn = cfg.i("generate.recalibrate_bn");
  o.repair = cfg.i("generate.repair");
  o.barrier_pairs = cfg.i("eval.barrier_pairs");
  o.align = cfg.s("zoo.align");
  o.fingerprint = stage_fingerprint(cfg, eval_config_keys());
  o.config = config_json(cfg);
  return o;
}

}  // namespace pdiff
