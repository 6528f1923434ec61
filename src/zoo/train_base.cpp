#include "zoo/train_base.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/run_context.h"
#include "dist/group.h"
#include "io/file_io.h"
#include "zoo/optim.h"
#include "core/progress.h"
#include "zoo/batch_schedule.h"
#include "zoo/split_batch_step.h"
#include "zoo/zoo_file.h"

namespace pdiff {

void train_base(const Classifier& model, const ClassifierSpec& spec, const BaseOptions& opts, const RunContext& run,
                const DataSplits& data, const std::string& partial_path) {
  const int64_t epochs = opts.epochs;
  BatchSchedule schedule(data, opts.batch, run.seed);
  const int64_t total = epochs * schedule.iters_per_epoch();
  std::vector<torch::Tensor> params;
  for (auto& p : model->parameters()) params.push_back(p);
  std::unique_ptr<Optimizer> opt;
  if (opts.optimizer == "sgd")
    opt = std::make_unique<Sgd>(params, opts.momentum, opts.weight_decay);
  else
    opt = std::make_unique<AdamW>(params, opts.weight_decay);

  const std::string& fingerprint = opts.fingerprint;
  int64_t start_epoch = 0;
  if (file_exists(partial_path)) {
    DictFile f = DictFile::load(partial_path, "pdiff.base_partial", 1, "delete it to start over");
    if (f.str("fingerprint") == fingerprint) {
      std::vector<std::pair<std::string, torch::Tensor>> state;
      for (const auto& [name, t] : state_dict(model)) state.emplace_back(name, f.tensor("model." + name));
      load_state_dict(model, state, partial_path);
      opt->load_state(f, "optim");
      start_epoch = f.integer("epoch");
      std::fprintf(stderr, "base: resuming after epoch %lld of %lld\n", (long long)start_epoch, (long long)epochs);
    }
  }

  model->train();
  // Data-parallel in a job of several processes: each rank a share of every batch.
  const bool data_parallel = trains_data_parallel(*model);
  const int64_t batch = data_parallel ? share_of(opts.batch, dist_rank(), dist_world()).size() : opts.batch;
  if (data_parallel)
    std::fprintf(stderr, "base training: data-parallel over %d ranks (%lld of each batch's %lld images on rank %d)\n",
                 dist_world(), (long long)batch, (long long)opts.batch, dist_rank());
  SplitBatchStep split(model, spec, split_workers(*model, batch, run.precision), data_parallel, "base training");
  Progress progress("base training", total - start_epoch * schedule.iters_per_epoch(), "it");
  const double lr = opts.lr;
  torch::Tensor loss_sum = torch::zeros({}, torch::TensorOptions().device(device_of(*model)));
  int64_t loss_count = 0;
  for (int64_t epoch = start_epoch; epoch < epochs; ++epoch) {
    for (int64_t k = 0; k < schedule.iters_per_epoch(); ++k) {
      int64_t it = epoch * schedule.iters_per_epoch() + k;
      auto [x, y] = schedule.batch(it);
      opt->zero_grad();
      auto loss = split.run(model->prepare_input(x), y, [&run](ClassifierImpl& m, const torch::Tensor& images) {
        TrainingPrecision precision(run.precision, images.device());
        return m.forward(images).to(torch::kFloat32);  // the loss in fp32
      });
      opt->step(cosine_lr(lr, it, total));
      loss_sum += loss;
      ++loss_count;
      if (loss_count == 50 || k + 1 == schedule.iters_per_epoch()) {  // one host sync per 50 steps
        char buf[64];
        std::snprintf(buf, sizeof buf, "epoch %lld loss %.4f", (long long)epoch + 1,
                      loss_sum.item<double>() / loss_count);
        progress.tick(loss_count, buf);
        loss_sum.zero_();
        loss_count = 0;
      }
    }
    if (!is_main_rank()) continue;  // rank 0 writes the resume state
    DictFile f;
    for (const auto& [name, t] : state_dict(model)) f.set_tensor("model." + name, t.detach());
    opt->save_state(f, "optim");
    f.set("epoch", epoch + 1);
    f.set("fingerprint", fingerprint);
    f.save(partial_path, "pdiff.base_partial", 1);
  }
  progress.finish();
  if (data_parallel) dist_check_same_weights(*model, "base training: the weights after training");
}

Classifier fresh_model(const RunContext& run, const ClassifierSpec& spec) {
  torch::manual_seed(run.seed);
  Classifier model = make_classifier(spec);
  model->to(run.device);
  return model;
}

std::optional<double> ready_base(const RunContext& run, const BaseOptions& opts, const ClassifierSpec& spec,
                                 Classifier& model, const NamedTensors& from_file, const std::string& file,
                                 const std::function<double(const Classifier&)>& accuracy_of) {
  const std::string& dir = run.dir;
  const std::string base_path = dir + "/base.pt", info_path = dir + "/base.json";
  if (!from_file.empty()) {
    // Read every time (a file replaced under the same name is seen); base.pt is its copy.
    Stopwatch timer;
    load_state_dict(model, from_file, file);
    double acc = accuracy_of(model);
    save_base(base_path, model);
    nlohmann::json info = {{"fingerprint", opts.fingerprint}, {"test_accuracy", acc}, {"arch", spec.arch},
                           {"train_seconds", 0.0}, {"source", file}};
    write_file_atomic(info_path, info.dump(2) + "\n");
    std::fprintf(stderr, "base: read %s in %.1f s (no base training), test accuracy %.2f %%\n", file.c_str(),
                 timer.seconds(), acc);
    return acc;
  }
  if (file_exists(base_path) && file_exists(info_path)) {
    auto info = nlohmann::json::parse(read_text_file(info_path), nullptr, false);
    if (!info.is_discarded() && info.value("fingerprint", "") == opts.fingerprint) {
      try {
        model = load_base(base_path, spec, run.device);
        std::fprintf(stderr, "base: reusing %s (test accuracy %.2f %%)\n", base_path.c_str(),
                     info.value("test_accuracy", 0.0));
        return info.value("test_accuracy", 0.0);
      } catch (const Error& e) {  // e.g. corrupt: train it anew rather than refuse forever
        std::fprintf(stderr, "base: not reusing %s: %s\n", base_path.c_str(), e.what());
        model = fresh_model(run, spec);  // the state a fresh run trains from (load_base drew from it)
      }
    }
  }
  return std::nullopt;
}

double train_and_save_base(const RunContext& run, const BaseOptions& opts, const DataSplits& data,
                           const ClassifierSpec& spec, const Classifier& model,
                           const std::function<double(const Classifier&)>& accuracy_of, bool train) {
  const std::string& dir = run.dir;
  Stopwatch timer;
  if (train) train_base(model, spec, opts, run, data, dir + "/base.partial.pt");
  if (!is_main_rank()) return 0;
  double acc = accuracy_of(model);
  save_base(dir + "/base.pt", model);
  nlohmann::json info = {{"fingerprint", opts.fingerprint}, {"test_accuracy", acc}, {"arch", spec.arch},
                         {"train_seconds", timer.seconds()}, {"trained", train}};
  write_file_atomic(dir + "/base.json", info.dump(2) + "\n");
  std::remove((dir + "/base.partial.pt").c_str());
  std::fprintf(stderr, "base: %stest accuracy %.2f %%\n",
               train ? "" : "not trained (zoo.mode = scratch: every run trains from its own initialisation; "
                            "base.pt is the untrained network), ", acc);
  return acc;
}

}  // namespace pdiff
