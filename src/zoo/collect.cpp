#include "zoo/collect.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "dist/group.h"
#include "io/file_io.h"
#include "zoo/optim.h"
#include "core/progress.h"
#include "io/rows_writer.h"
#include "core/run_lock.h"
#include "zoo/batch_schedule.h"
#include "zoo/import.h"
#include "zoo/rows_file_rounds.h"
#include "zoo/zoo_alignment.h"
#include "zoo/layout.h"
#include "zoo/split_batch_step.h"
#include "zoo/tail_evaluator.h"
#include "zoo/ranks_evaluation.h"
#include "zoo/train_base.h"
#include "zoo/weights_file.h"
#include "zoo/zoo_file.h"

namespace pdiff {

namespace {

std::unique_ptr<Optimizer> make_subset_optimizer(const ZooOptions& zoo, std::vector<torch::Tensor> params) {
  if (zoo.optimizer == "adamw") return std::make_unique<AdamW>(params, zoo.weight_decay);
  return std::make_unique<Sgd>(params, 0.9, zoo.weight_decay);
}

// Work that trains data-parallel runs on every rank; otherwise on rank 0 alone, the others
// waiting (dist/group.h on_main_rank).
void on_training_ranks(bool data_parallel, const std::string& what, const std::function<void()>& fn) {
  if (data_parallel) fn();
  else on_main_rank(what, fn);
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

// The resume state a killed collection left, when it is this config's and its rows are on disk.
std::optional<DictFile> resume_state(const std::string& partial_path, const std::string& rows_path,
                                     const std::string& fingerprint, int64_t k) {
  if (!file_exists(partial_path)) return std::nullopt;
  DictFile f = DictFile::load(partial_path, "pdiff.zoo_partial", kZooPartialVersion, "delete it to start over");
  if (f.str("fingerprint") != fingerprint) return std::nullopt;  // another config's collection: start over
  if (!file_exists(rows_path)) {
    std::fprintf(stderr, "zoo: %s is missing; starting over\n", rows_path.c_str());
    return std::nullopt;
  }
  std::fprintf(stderr, "zoo: resuming after %lld of %lld checkpoints\n", (long long)f.integer("done"), (long long)k);
  return f;
}

// Scratch mode: run k's own random initialisation, drawn from the seed and k alone (the layout
// holds the whole network, so nothing of the base is left in it).
torch::Tensor scratch_start(const ClassifierSpec& spec, const ParamLayout& layout, uint64_t seed, int64_t run) {
  torch::manual_seed(make_generator(seed, 5, static_cast<uint64_t>(run)).current_seed());
  return layout.flatten(make_classifier(spec)).detach().clone();
}

// The selected subset of a copy of the base, trained step by step on its own batches (the
// rest of the network frozen: its prefix runs without a graph). `data_parallel`: every rank
// takes its share of each batch (one trajectory); otherwise each rank trains alone.
class SubsetTrainer {
 public:
  SubsetTrainer(const RunContext& run, const ZooOptions& zoo, const DataSplits& data, const ClassifierSpec& spec,
                const Classifier& base, const ParamLayout& layout, bool data_parallel)
      : run_(run), zoo_(zoo), data_(data), layout_(layout), model_(clone_classifier(base, spec)) {
    for (auto& p : model_->parameters()) p.set_requires_grad(false);
    tensors_ = layout.trainable(model_);  // zoo.select=whole: running statistics follow the forward passes
    for (auto& t : tensors_) t.set_requires_grad(true);
    tail_ = model_->first_stage_using(layout.names());
    opt_ = make_subset_optimizer(zoo, tensors_);
    schedule_ = std::make_unique<BatchSchedule>(data, zoo.batch, data_stream_seed(run.seed, kZooStream));
    model_->train();  // batch statistics in the forward pass, as in the official protocol
    const int64_t batch = data_parallel ? share_of(zoo.batch, dist_rank(), dist_world()).size() : zoo.batch;
    split_ = std::make_unique<SplitBatchStep>(model_, spec, split_workers(*model_, batch, run.precision),
                                              data_parallel, "zoo training");
  }

  // An independent run from `start`: a fresh optimizer and the data order of `stream`.
  void restart(const torch::Tensor& start, uint64_t stream) {
    layout_.assign(model_, start);
    opt_ = make_subset_optimizer(zoo_, tensors_);
    schedule_ = std::make_unique<BatchSchedule>(data_, zoo_.batch, data_stream_seed(run_.seed, stream));
  }

  void step(int64_t i) {
    auto [x, y] = schedule_->batch(i);
    opt_->zero_grad();
    const int64_t tail = tail_;
    const RunContext& run = run_;
    split_->run(model_->prepare_input(x), y, [tail, &run](ClassifierImpl& m, const torch::Tensor& images) {
      TrainingPrecision precision(run.precision, images.device());
      torch::Tensor h;
      {
        torch::NoGradGuard ng;  // the frozen prefix needs no graph
        h = m.forward_range(images, 0, tail);
      }
      return m.forward_range(h, tail, m.num_stages()).to(torch::kFloat32);  // the loss in fp32
    });
    opt_->step(zoo_.lr);
  }

  torch::Tensor current() const { return layout_.flatten(model_); }
  void assign(const torch::Tensor& vec) { layout_.assign(model_, vec); }
  Optimizer& optimizer() { return *opt_; }
  const Classifier& model() const { return model_; }
  int64_t iters_per_epoch() const { return schedule_->iters_per_epoch(); }

 private:
  const RunContext& run_;
  const ZooOptions& zoo_;
  const DataSplits& data_;
  const ParamLayout& layout_;
  Classifier model_;
  std::vector<torch::Tensor> tensors_;
  int64_t tail_ = 0;
  std::unique_ptr<Optimizer> opt_;
  std::unique_ptr<BatchSchedule> schedule_;
  std::unique_ptr<SplitBatchStep> split_;
};

// Iteration and epoch modes: one training of the selected subset from the base values, a
// checkpoint after every iteration or epoch, appended by rank 0 to the zoo being written
// (`rows`, made here: a new file, or the one a killed collection left). Data-parallel, every
// rank trains its share of each batch and reads the resume state (the run directory is shared).
void collect_trajectory(const RunContext& run, const CollectOptions& opts, const DataSplits& data,
                        const ClassifierSpec& spec, const Classifier& base, const ParamLayout& layout,
                        const std::string& rows_path, std::optional<RowsWriter>& rows, bool data_parallel) {
  const ZooOptions& zoo = opts.zoo;
  const std::string partial_path = run.dir + "/zoo.partial.pt";
  const int64_t K = zoo.k;
  SubsetTrainer trainer(run, zoo, data, spec, base, layout, data_parallel);
  int64_t k0 = 0, it = 0;
  if (const auto f = resume_state(partial_path, rows_path, opts.fingerprint, K)) {
    k0 = f->integer("done");
    it = f->integer("iteration");
    trainer.assign(f->tensor("current"));
    trainer.optimizer().load_state(*f, "optim");
  }
  std::unique_ptr<Progress> progress;
  if (is_main_rank()) {
    rows.emplace(rows_path, K, layout.dim(), k0);
    progress = std::make_unique<Progress>("zoo", K - k0, "ckpt");
  }
  const int64_t save_every = zoo.mode == "iteration" ? 25 : 1;
  const int64_t iters = zoo.mode == "iteration" ? 1 : trainer.iters_per_epoch();
  for (int64_t k = k0; k < K; ++k) {
    for (int64_t j = 0; j < iters; ++j) trainer.step(it++);
    if (!is_main_rank()) continue;
    rows->append(trainer.current());  // on disk before the state below counts it
    progress->tick(1);
    if ((k + 1) % save_every == 0 && k + 1 < K) {
      DictFile f;
      f.set_tensor("current", trainer.current());
      trainer.optimizer().save_state(f, "optim");
      f.set("done", k + 1);
      f.set("iteration", it);
      f.set("fingerprint", opts.fingerprint);
      f.save(partial_path, "pdiff.zoo_partial", kZooPartialVersion);
    }
  }
  if (progress) progress->finish();
  if (data_parallel) dist_check_same_weights(*trainer.model(), "zoo training: the weights after the trajectory");
}

AlignmentSetup alignment_setup(const ZooOptions& zoo, const DataSplits& data, uint64_t seed) {
  return {zoo.align, &data, zoo.align_batches, seed, zoo.align_rounds};
}

// The resume state of a collection whose K rows are all in: zoo.align_rounds rounds done so far.
void save_rounds_state(const std::string& partial_path, const std::string& fingerprint, int64_t k, int64_t rounds) {
  DictFile f;
  f.set("done", k);
  f.set("iteration", int64_t{0});
  f.set("fingerprint", fingerprint);
  f.set("align_rounds", rounds);
  f.save(partial_path, "pdiff.zoo_partial", kZooPartialVersion);
}

// Seeds mode: K independent runs, run k from its own starting point with its own data order,
// depending only on the seed and k. In a job of several processes run k is rank (k mod W)'s;
// each round's checkpoints are gathered in run order and rank 0 appends them (`rows`, its own),
// so zoo.pt's rows are the same at any world size. A killed collection resumes after the last
// whole round, at any world size.
void collect_seed_runs(const RunContext& run, const CollectOptions& opts, const DataSplits& data,
                       const ClassifierSpec& spec, const Classifier& base, const ParamLayout& layout,
                       const std::string& rows_path, std::optional<RowsWriter>& rows) {
  const ZooOptions& zoo = opts.zoo;
  const std::string partial_path = run.dir + "/zoo.partial.pt";
  const int64_t K = zoo.k;
  const int world = dist_world(), rank = dist_rank();
  int64_t k0 = 0, rounds_done = 0;
  on_main_rank("collect: reading the resume state", [&] {
    if (const auto f = resume_state(partial_path, rows_path, opts.fingerprint, K)) {
      k0 = f->integer("done");
      if (f->has("align_rounds")) rounds_done = f->integer("align_rounds");
    }
    resume_rows_file_rounds(rows_path, rounds_done);
    rows.emplace(rows_path, K, layout.dim(), k0);
  });
  k0 = dist_broadcast_int(k0, "collect: the runs already done");
  SubsetTrainer trainer(run, zoo, data, spec, base, layout, /*data_parallel=*/false);  // a run per rank
  const torch::Tensor base_vec = layout.flatten(base);
  const bool scratch = zoo.mode == "scratch";
  // zoo.align: each run's checkpoint aligned to run 0's as it is appended, by rank 0 alone (the
  // other ranks' aligner stays inactive: no activation batches for them).
  RowAligner aligner(layout, base, spec, is_main_rank() ? alignment_setup(zoo, data, run.seed) : AlignmentSetup{});
  if (is_main_rank() && aligner.active() && k0 > 0) aligner.set_reference(rows->written()[0]);
  std::unique_ptr<Progress> progress;
  if (is_main_rank()) progress = std::make_unique<Progress>("zoo", K - k0, "ckpt");
  for (int64_t round = k0; round < K; round += world) {
    const int64_t k = round + rank;
    torch::Tensor mine = torch::empty({0, layout.dim()});
    if (k < K) {
      trainer.restart(scratch ? scratch_start(spec, layout, run.seed, k)
                              : run_start(base_vec, layout, zoo.init_noise, run.seed, k),
                      kFirstRunStream + k);
      // The global generator too (a TorchScript model's dropout), from the seed and k alone.
      torch::manual_seed(make_generator(run.seed, 4, static_cast<uint64_t>(k)).current_seed());
      for (int64_t it = 0; it < zoo.run_iters; ++it) trainer.step(it);
      mine = trainer.current().cpu().unsqueeze(0);
    }
    std::vector<int64_t> counts(world);
    for (int r = 0; r < world; ++r) counts[r] = round + r < K ? 1 : 0;
    const torch::Tensor done = dist_gather_rows(mine, counts, "collect: gathering the runs' checkpoints");
    if (!is_main_rank()) continue;
    for (int64_t j = 0; j < done.size(0); ++j)  // on disk before the state below counts it
      rows->append(aligner(done[j], round + j));
    progress->tick(done.size(0));
    const int64_t finished = round + done.size(0);
    if (finished < K) {
      DictFile f;
      f.set("done", finished);
      f.set("iteration", int64_t{0});
      f.set("fingerprint", opts.fingerprint);
      f.save(partial_path, "pdiff.zoo_partial", kZooPartialVersion);
    }
  }
  if (progress) progress->finish();
  if (is_main_rank() && aligner.active()) std::fprintf(stderr, "%s\n", aligner.summary().c_str());
  // The rounds to the zoo's average are rank 0's, over its rows file; the other ranks wait (as
  // long as it takes: a whole ResNet zoo's rounds are minutes each).
  if (zoo.align != "none" && zoo.align_rounds > 0 && K > 1)
    on_main_rank("collect: aligning the zoo to its average (zoo.align_rounds)", [&] {
      align_rows_file_to_average(aligner, zoo.align_rounds, rounds_done, rows_path, rows, [&](int64_t done) {
        save_rounds_state(partial_path, opts.fingerprint, K, done);
      });
    });
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
  // Every rank of a job reads the data: it trains the base and the trajectory with rank 0
  // (data-parallel), its seeds-mode runs, and evaluates checkpoints. Rank 0 checks the inputs,
  // reads base.file and the imports and writes every file.
  DataSplits data = load_dataset(opts.data);
  ClassifierSpec spec = classifier_spec(opts.model, data);
  Classifier model = make_classifier(spec);
  const std::string& dir = run.dir;
  const std::string rows_path = dir + "/zoo.pt.partial";
  const bool seed_runs = (opts.zoo.mode == "seeds" || opts.zoo.mode == "scratch") && opts.zoo.import.empty();
  std::optional<RunDirLock> lock;
  std::optional<RowsWriter> rows;  // rank 0's
  // Made for the base's accuracy and kept for the checkpoints': its cache of the frozen prefix
  // is computed once (a full forward pass costs ~3 s more).
  std::unique_ptr<TailEvaluator> evaluator;
  ParamLayout layout;
  double base_acc = 0;
  std::string base_source, what;
  bool base_ready = false;  // taken from a file or reused; otherwise trained below
  int64_t K_planned = 0;    // imported checkpoints
  std::function<double(const Classifier&)> accuracy_of;  // rank 0's measure of the base
  Stopwatch timer;
  on_main_rank("collect: checking the inputs and preparing the base", [&] {
    // Everything that can be refused is checked before anything is written.
    // zoo.select=moving is decided by the imported checkpoints, below.
    const bool moving = opts.zoo.select == "moving";
    check(!moving || !opts.zoo.import.empty(),
          "zoo.select = moving takes the tensors that move across imported checkpoints: set zoo.import (pdiff import "
          "--from ...) or choose another zoo.select");
    const bool separate = !opts.zoo.import.empty() || opts.zoo.mode == "scratch";
    check(opts.zoo.align == "none" || separate,
          "zoo.align = " + opts.zoo.align + " aligns separate trainings: imported ones (zoo.import) or "
          "zoo.mode=scratch; a zoo of mode " + opts.zoo.mode + " descends from one base, whose units every "
          "checkpoint keeps: use zoo.align=none");
    if (!moving) layout = ParamLayout::of(model, select_parameters(model, opts.zoo.select));
    if (opts.zoo.mode == "scratch" && opts.zoo.import.empty()) {
      check(opts.model.arch != "torchscript",
            "zoo.mode = scratch draws each run's initialisation with pdiff's own architectures; a TorchScript "
            "module's only initialisation is the weights saved in it: import separate trainings instead (zoo.import)");
      // Every floating-point tensor trains from its own initialisation: a frozen remainder
      // would be the base's, which a network trained from scratch never saw.
      const std::vector<std::string> names = layout.names();
      for (const auto& [name, t] : state_dict(model))
        check(!t.is_floating_point() || std::find(names.begin(), names.end(), name) != names.end(),
              "zoo.mode = scratch trains whole networks, but zoo.select = " + opts.zoo.select + " leaves out " + name +
                  ": use zoo.select=whole (or all for a network without BatchNorm)");
      check_alignable(layout, model, opts.model.arch, opts.zoo.align);
    }
    // base.file and zoo.import are read and checked before anything is written.
    base_source = opts.base.file;
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
      check_alignable(layout, model, opts.model.arch, opts.zoo.align);
      std::vector<std::string> drifting;  // running statistics outside the selection
      imported = import_checkpoints(paths, model, from_file, layout, opts.zoo.import_stats, &drifting);
      if (!drifting.empty() && opts.zoo.import_stats == "own") {
        std::vector<std::string> names = layout.names();
        names.insert(names.end(), drifting.begin(), drifting.end());
        layout = ParamLayout::of(model, names);
        check_alignable(layout, model, opts.model.arch, opts.zoo.align);
        imported = import_checkpoints(paths, model, from_file, layout, opts.zoo.import_stats);
      }
      align_zoo_rows(imported, layout, model, spec, alignment_setup(opts.zoo, data, run.seed));
    }
    using KeyValue = std::pair<std::string, int64_t>;
    for (const auto& [key, batch] : {KeyValue{"base.batch", opts.base.batch}, KeyValue{"zoo.batch", opts.zoo.batch}})
      if (key == "base.batch" ? from_file.empty() : !imported.defined())  // only what trains
        check(batch <= data.train.size(), key + " = " + std::to_string(batch) + " is larger than the " +
                                              std::to_string(data.train.size()) +
                                              " training images; lower it or raise data.train_limit");
    lock.emplace(dir, /*create=*/true);
    record_config(dir, run.config_yaml);
    model = fresh_model(run, spec);
    // The base model is evaluated like the checkpoints, on the tail.
    accuracy_of = [&](const Classifier& base) {
      evaluator = std::make_unique<TailEvaluator>(clone_classifier(model, spec), layout, data.test);
      return evaluator->evaluate(layout.flatten(base).unsqueeze(0)).accuracy[0].item<double>();
    };
    const std::optional<double> ready = ready_base(run, opts.base, spec, model, from_file, base_source, accuracy_of);
    base_ready = ready.has_value();
    base_acc = ready.value_or(0);
    what = imported.defined() ? "imported from " + import_source : opts.zoo.mode + " mode";
    if (imported.defined()) {
      rows.emplace(rows_path, imported.size(0), layout.dim());
      for (int64_t k = 0; k < imported.size(0); ++k) rows->append(imported[k]);
      K_planned = imported.size(0);
    }
  });
  // The layout rank 0 found (zoo.select=moving is found from the imports), and whether the base
  // is ready; the other ranks take it from base.pt, or train it with rank 0.
  base_ready = dist_broadcast_int(base_ready, "collect: whether the base is ready") != 0;
  if (!is_main_rank()) {
    model = base_ready ? load_base(dir + "/base.pt", spec, run.device) : fresh_model(run, spec);
    std::vector<std::string> names;
    std::istringstream text(dist_broadcast_text("", "collect: the selected tensors"));
    for (std::string name; std::getline(text, name);) names.push_back(name);
    layout = ParamLayout::of(model, names);
  } else {
    std::string text;
    for (const auto& name : layout.names()) text += name + "\n";
    dist_broadcast_text(text, "collect: the selected tensors");
  }
  const bool data_parallel = trains_data_parallel(*model);
  if (!base_ready) {
    const bool train = !(seed_runs && opts.zoo.mode == "scratch");
    on_training_ranks(data_parallel && train, "collect: training the base",
                      [&] { base_acc = train_and_save_base(run, opts.base, data, spec, model, accuracy_of, train); });
    if (!(data_parallel && train) && !is_main_rank()) model = load_base(dir + "/base.pt", spec, run.device);
  }
  if (is_main_rank())
    std::fprintf(stderr, "zoo: %lld checkpoints (%s) of %zu tensors, D = %lld (zoo.select = %s: %s)\n",
                 (long long)(K_planned ? K_planned : opts.zoo.k), what.c_str(), layout.entries().size(),
                 (long long)layout.dim(), opts.zoo.select.c_str(), describe_selection(layout).c_str());
  if (opts.zoo.import.empty() && !seed_runs)
    on_training_ranks(data_parallel, "collect: the trajectory",
                      [&] { collect_trajectory(run, opts, data, spec, model, layout, rows_path, rows, data_parallel); });
  if (seed_runs) collect_seed_runs(run, opts, data, spec, model, layout, rows_path, rows);

  // The checkpoints' evaluation, split across the ranks: rank 0 reads the rows it wrote and
  // deals them out (a round of a pass per rank at a time), the results come back in row order.
  const int64_t K = dist_broadcast_int(is_main_rank() ? rows->rows() : 0, "collect: the number of checkpoints");
  if (!evaluator) evaluator = std::make_unique<TailEvaluator>(clone_classifier(model, spec), layout, data.test);
  const torch::Tensor written = is_main_rank() ? rows->written() : torch::empty({0, layout.dim()});
  const EvalResult r = evaluate_on_every_rank(*evaluator, written, K, "zoo eval");
  on_main_rank("collect: writing zoo.pt", [&] {
    Zoo zoo;
    zoo.params = written;  // read back a model at a time (io/mapped_file.h)
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
  });
}

}  // namespace pdiff
