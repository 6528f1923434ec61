#include "zoo/collect.h"

#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/file_io.h"
#include "zoo/optim.h"
#include "core/progress.h"
#include "io/rows_writer.h"
#include "core/run_lock.h"
#include "zoo/batch_schedule.h"
#include "zoo/import.h"
#include "zoo/layout.h"
#include "zoo/split_batch_step.h"
#include "zoo/tail_evaluator.h"
#include "zoo/train_base.h"
#include "zoo/weights_file.h"
#include "zoo/zoo_file.h"

namespace pdiff {

namespace {

std::unique_ptr<Optimizer> make_subset_optimizer(const ZooOptions& zoo, std::vector<torch::Tensor> params) {
  if (zoo.optimizer == "adamw") return std::make_unique<AdamW>(params, zoo.weight_decay);
  return std::make_unique<Sgd>(params, 0.9, zoo.weight_decay);
}

// Trains, reloads or takes (`from_file`, read from `file`: base.file or the first imported
// checkpoint) the base model; returns its test accuracy, measured by `accuracy_of`.
double prepare_base(const RunContext& run, const BaseOptions& opts, const DataSplits& data, const ClassifierSpec& spec, Classifier& model,
                    const NamedTensors& from_file, const std::string& file,
                    const std::function<double(const Classifier&)>& accuracy_of) {
  const std::string& dir = run.dir;
  const std::string base_path = dir + "/base.pt", info_path = dir + "/base.json";
  const std::string& fingerprint = opts.fingerprint;
  if (!from_file.empty()) {
    // Read every time (a file replaced under the same name is seen); base.pt is its copy.
    Stopwatch timer;
    load_state_dict(model, from_file, file);
    double acc = accuracy_of(model);
    save_base(base_path, model);
    nlohmann::json info = {{"fingerprint", fingerprint}, {"test_accuracy", acc}, {"arch", spec.arch},
                           {"train_seconds", 0.0}, {"source", file}};
    write_file_atomic(info_path, info.dump(2) + "\n");
    std::fprintf(stderr, "base: read %s in %.1f s (no base training), test accuracy %.2f %%\n", file.c_str(),
                 timer.seconds(), acc);
    return acc;
  }
  if (file_exists(base_path) && file_exists(info_path)) {
    auto info = nlohmann::json::parse(read_text_file(info_path), nullptr, false);
    if (!info.is_discarded() && info.value("fingerprint", "") == fingerprint) {
      try {
        model = load_base(base_path, spec, run.device);
        std::fprintf(stderr, "base: reusing %s (test accuracy %.2f %%)\n", base_path.c_str(),
                     info.value("test_accuracy", 0.0));
        return info.value("test_accuracy", 0.0);
      } catch (const Error& e) {  // e.g. corrupt: train it anew rather than refuse forever
        std::fprintf(stderr, "base: not reusing %s: %s\n", base_path.c_str(), e.what());
        torch::manual_seed(run.seed);  // the state a fresh run trains from (load_base drew from it)
        model = make_classifier(spec);
        model->to(run.device);
      }
    }
  }
  Stopwatch timer;
  train_base(model, spec, opts, run, data, dir + "/base.partial.pt");
  double acc = accuracy_of(model);
  save_base(base_path, model);
  nlohmann::json info = {{"fingerprint", fingerprint}, {"test_accuracy", acc}, {"arch", spec.arch},
                         {"train_seconds", timer.seconds()}};
  write_file_atomic(info_path, info.dump(2) + "\n");
  std::remove((dir + "/base.partial.pt").c_str());
  std::fprintf(stderr, "base: test accuracy %.2f %%\n", acc);
  return acc;
}

// The resume state of a collection; version 1 also held every checkpoint so far.
constexpr int64_t kZooPartialVersion = 2;
constexpr uint64_t kZooStream = 1;           // iteration and epoch modes (base training: 0)
constexpr uint64_t kFirstRunStream = 2;      // seeds mode: run k uses stream 2 + k

// Seeds mode: run k's own starting point, the base values plus Gaussian noise of
// zoo.init_noise times each selected tensor's RMS (drawn from the run's own generator).
torch::Tensor run_start(const torch::Tensor& base_vec, const ParamLayout& layout, double noise, uint64_t seed,
                        int64_t run) {
  auto gen = make_generator(seed, 3, static_cast<uint64_t>(run));
  auto start = base_vec.clone();
  for (const auto& e : layout.entries()) {
    if (e.name.find("running_") != std::string::npos) continue;  // statistics, not weights
    auto t = start.slice(0, e.offset, e.offset + e.numel);
    const double rms = t.square().mean().sqrt().item<double>();
    t.add_(torch::randn({e.numel}, gen, t.options()) * (noise * rms));
  }
  return start;
}

// Trains the selected subset from the base values and appends the K checkpoints to the zoo
// being written (`rows`, made here: a new file, or the one a killed collection left).
RowsWriter collect_checkpoints(const RunContext& run, const CollectOptions& opts, const DataSplits& data, const ClassifierSpec& spec,
                              const Classifier& base, const ParamLayout& layout, const std::string& rows_path) {
  const ZooOptions& zoo = opts.zoo;
  const std::string partial_path = run.dir + "/zoo.partial.pt";
  const std::string& fingerprint = opts.fingerprint;
  const std::string& mode = zoo.mode;
  const int64_t K = zoo.k;
  const uint64_t seed = run.seed;

  Classifier model = clone_classifier(base, spec);
  for (auto& p : model->parameters()) p.set_requires_grad(false);
  auto tensors = layout.trainable(model);  // zoo.select=whole: running statistics follow the forward passes
  for (auto& t : tensors) t.set_requires_grad(true);
  const int64_t tail = model->first_stage_using(layout.names());
  const torch::Tensor base_vec = layout.flatten(base);
  auto opt = make_subset_optimizer(zoo, tensors);
  auto schedule = std::make_unique<BatchSchedule>(data, zoo.batch, data_stream_seed(seed, kZooStream));

  int64_t k0 = 0, it = 0;
  if (file_exists(partial_path)) {
    DictFile f = DictFile::load(partial_path, "pdiff.zoo_partial", kZooPartialVersion, "delete it to start over");
    if (f.str("fingerprint") != fingerprint) {
      // another config's collection: start over
    } else if (!file_exists(rows_path)) {
      std::fprintf(stderr, "zoo: %s is missing; starting over\n", rows_path.c_str());
    } else {
      k0 = f.integer("done");
      it = f.integer("iteration");
      layout.assign(model, f.tensor("current"));
      opt->load_state(f, "optim");
      std::fprintf(stderr, "zoo: resuming after %lld of %lld checkpoints\n", (long long)k0, (long long)K);
    }
  }
  RowsWriter rows(rows_path, K, layout.dim(), k0);

  model->train();  // batch statistics in the forward pass, as in the official protocol
  const double lr = zoo.lr;
  SplitBatchStep split(model, spec, split_workers(*model, zoo.batch, run.precision));
  auto step = [&](int64_t i) {
    auto [x, y] = schedule->batch(i);
    opt->zero_grad();
    split.run(model->prepare_input(x), y, [tail, &run](ClassifierImpl& m, const torch::Tensor& images) {
      TrainingPrecision precision(run.precision, images.device());
      torch::Tensor h;
      {
        torch::NoGradGuard ng;  // the frozen prefix needs no graph
        h = m.forward_range(images, 0, tail);
      }
      return m.forward_range(h, tail, m.num_stages()).to(torch::kFloat32);  // the loss in fp32
    });
    opt->step(lr);
  };

  Progress progress("zoo", K - k0, "ckpt");
  const int64_t save_every = mode == "iteration" ? 25 : 1;
  for (int64_t k = k0; k < K; ++k) {
    int64_t iters = mode == "iteration" ? 1 : schedule->iters_per_epoch();
    if (mode == "seeds") {
      // An independent run: own starting point, fresh optimizer, own data order.
      layout.assign(model, run_start(base_vec, layout, zoo.init_noise, seed, k));
      opt = make_subset_optimizer(zoo, tensors);
      schedule = std::make_unique<BatchSchedule>(data, zoo.batch, data_stream_seed(seed, kFirstRunStream + k));
      iters = zoo.run_iters;
      it = 0;
    }
    for (int64_t j = 0; j < iters; ++j) step(it++);
    rows.append(layout.flatten(model));  // on disk before the state below counts it
    progress.tick(1);
    if ((k + 1) % save_every == 0 && k + 1 < K) {
      DictFile f;
      f.set_tensor("current", layout.flatten(model));
      opt->save_state(f, "optim");
      f.set("done", k + 1);
      f.set("iteration", it);
      f.set("fingerprint", fingerprint);
      f.save(partial_path, "pdiff.zoo_partial", kZooPartialVersion);
    }
  }
  progress.finish();
  return rows;
}

// The selected tensors by name, or the first and last few of a long list.
std::string describe_selection(const ParamLayout& layout) {
  const auto names = layout.names();
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names.size() > 8 && i == 3) {
      out += ", ... (" + std::to_string(names.size() - 6) + " more)";
      i = names.size() - 4;
      continue;
    }
    out += (i ? ", " : "") + names[i];
  }
  return out;
}

}  // namespace

void collect(const RunContext& run, const CollectOptions& opts) {
  // Everything that can be refused is checked before anything is written.
  DataSplits data = load_dataset(opts.data);
  ClassifierSpec spec = classifier_spec(opts.model, data);
  Classifier model = make_classifier(spec);
  // zoo.select=moving is decided by the imported checkpoints, below.
  const bool moving = opts.zoo.select == "moving";
  check(!moving || !opts.zoo.import.empty(),
        "zoo.select = moving takes the tensors that move across imported checkpoints: set zoo.import (pdiff import "
        "--from ...) or choose another zoo.select");
  ParamLayout layout = moving ? ParamLayout() : ParamLayout::of(model, select_parameters(model, opts.zoo.select));
  // base.file and zoo.import are read and checked before anything is written.
  std::string base_source = opts.base.file;
  NamedTensors from_file;
  if (!base_source.empty()) from_file = read_weights_file(base_source, state_dict(model), "base.file");
  const std::string& import_source = opts.zoo.import;
  torch::Tensor imported;  // (K, D): the selected subset of each imported checkpoint
  if (!import_source.empty()) {
    const std::vector<std::string> paths = import_paths(import_source, opts.base.file);
    if (from_file.empty()) {  // the first checkpoint is the base
      base_source = paths[0];
      from_file = read_weights_file(base_source, state_dict(model), "zoo.import");
    }
    // moving reads the checkpoints once more to find the layout first: a second pass over the
    // files, only for this selection.
    if (moving) layout = ParamLayout::of(model, moving_tensors(paths, model, from_file));
    imported = import_checkpoints(paths, model, from_file, layout);
  }
  using KeyValue = std::pair<std::string, int64_t>;
  for (const auto& [key, batch] : {KeyValue{"base.batch", opts.base.batch}, KeyValue{"zoo.batch", opts.zoo.batch}})
    if (key == "base.batch" ? from_file.empty() : !imported.defined())  // only what trains
      check(batch <= data.train.size(), key + " = " + std::to_string(batch) + " is larger than the " +
                                            std::to_string(data.train.size()) +
                                            " training images; lower it or raise data.train_limit");
  const std::string& dir = run.dir;
  RunDirLock lock(dir, /*create=*/true);
  record_config(dir, run.config_yaml);
  torch::manual_seed(run.seed);
  model = make_classifier(spec);  // initialisation drawn from the seed just set, on the CPU
  model->to(run.device);

  // The base model is evaluated like the checkpoints, on the tail: the evaluator's cache of
  // the frozen prefix is made once and serves both (a full forward pass costs ~3 s more).
  std::unique_ptr<TailEvaluator> evaluator;
  auto make_evaluator = [&] { evaluator = std::make_unique<TailEvaluator>(clone_classifier(model, spec), layout, data.test); };
  auto accuracy_of = [&](const Classifier& base) {
    make_evaluator();
    return evaluator->evaluate(layout.flatten(base).unsqueeze(0)).accuracy[0].item<double>();
  };
  Stopwatch timer;
  double base_acc = prepare_base(run, opts.base, data, spec, model, from_file, base_source, accuracy_of);
  const std::string what = imported.defined() ? "imported from " + import_source : opts.zoo.mode + " mode";
  std::fprintf(stderr, "zoo: %lld checkpoints (%s) of %zu tensors, D = %lld (zoo.select = %s: %s)\n",
               (long long)(imported.defined() ? imported.size(0) : opts.zoo.k), what.c_str(),
               layout.entries().size(), (long long)layout.dim(), opts.zoo.select.c_str(),
               describe_selection(layout).c_str());
  const std::string rows_path = dir + "/zoo.pt.partial";
  std::optional<RowsWriter> rows;
  if (imported.defined()) {
    rows.emplace(rows_path, imported.size(0), layout.dim());
    for (int64_t k = 0; k < imported.size(0); ++k) rows->append(imported[k]);
    imported = torch::Tensor();
  } else {
    rows.emplace(collect_checkpoints(run, opts, data, spec, model, layout, rows_path));
  }
  Zoo zoo;
  zoo.params = rows->written();  // read back a model at a time (io/mapped_file.h)
  if (!evaluator) make_evaluator();  // the base model was reused
  EvalResult r = evaluator->evaluate(zoo.params, "zoo eval");
  zoo.accuracy = r.accuracy.to(torch::kFloat32);
  zoo.predictions = r.predictions;
  zoo.layout = layout;
  zoo.arch = spec.arch;
  zoo.config_yaml = run.config_yaml;
  zoo.fingerprint = opts.fingerprint;
  zoo.base_accuracy = base_acc;
  zoo.collect_seconds = timer.seconds();
  finish_zoo(*rows, zoo, dir + "/zoo.pt");
  std::remove((dir + "/zoo.partial.pt").c_str());
  std::fprintf(stderr, "zoo: accuracy best %.2f mean %.2f min %.2f %% (base %.2f %%); wrote %s/zoo.pt in %.1f s\n",
               zoo.accuracy.max().item<double>(), zoo.accuracy.mean().item<double>(),
               zoo.accuracy.min().item<double>(), base_acc, dir.c_str(), timer.seconds());
}

}  // namespace pdiff
