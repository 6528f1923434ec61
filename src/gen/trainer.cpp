#include "gen/trainer.h"

#include <cstdio>
#include <sstream>

#include "core/error.h"
#include "core/run_context.h"
#include "zoo/optim.h"
#include "core/progress.h"

namespace pdiff {

void save_module(const torch::nn::Module& module, DictFile& f, const std::string& prefix) {
  for (const auto& p : module.named_parameters()) f.set_tensor(prefix + p.key(), p.value().detach());
  for (const auto& b : module.named_buffers()) f.set_tensor(prefix + b.key(), b.value());
}

void load_module(torch::nn::Module& module, const DictFile& f, const std::string& prefix) {
  torch::NoGradGuard ng;
  auto load = [&](const std::string& name, torch::Tensor& dst) {
    auto src = f.tensor(prefix + name);
    check(src.sizes() == dst.sizes(), f.path() + ": tensor '" + prefix + name + "' has shape " +
                                          c10::str(src.sizes()) + ", the model built from the file's config expects " +
                                          c10::str(dst.sizes()));
    dst.copy_(src);
  };
  for (auto& p : module.named_parameters()) load(p.key(), p.value());
  for (auto& b : module.named_buffers()) load(b.key(), b.value());
}

int64_t parameter_count(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

namespace {
void write_csv(const std::string& path, const torch::Tensor& losses, int64_t n) {
  std::ostringstream os;
  os << "step,loss\n";
  auto acc = losses.accessor<float, 1>();
  for (int64_t i = 0; i < n; ++i) os << i + 1 << "," << acc[i] << "\n";
  write_file_atomic(path, os.str());
}
}  // namespace

torch::Tensor run_training(torch::nn::Module& module, const TrainLoop& loop) {
  std::vector<torch::Tensor> params = module.parameters();
  const int world = dist_world();
  const Share part = share_of(loop.batch, dist_rank(), world);
  check(part.size() > 0, loop.name + ".batch = " + std::to_string(loop.batch) + " is smaller than the job's " +
                             std::to_string(world) + " ranks, which share every batch; raise it or run fewer ranks");
  // The rank's share of the batch mean: the ranks' losses and gradients sum to the batch's.
  const double share = static_cast<double>(part.size()) / static_cast<double>(loop.batch);
  if (world > 1)
    std::fprintf(stderr, "%s: data-parallel over %d ranks (%lld of each batch's %lld rows on rank %d)\n",
                 loop.name.c_str(), world, (long long)part.size(), (long long)loop.batch, dist_rank());
  AdamW opt(params, loop.weight_decay);
  // On the module's device: no host sync per step, one per block below.
  torch::Tensor losses = torch::zeros({loop.steps}, torch::TensorOptions().device(device_of(module)));
  int64_t start = 0;
  if (file_exists(loop.partial_path)) {
    DictFile f = DictFile::load(loop.partial_path, "pdiff.train_partial", 1, "delete it to start over");
    if (f.str("fingerprint") == loop.fingerprint && f.integer("steps") == loop.steps) {
      load_module(module, f, "model.");
      opt.load_state(f, "optim");
      start = f.integer("step");
      losses.slice(0, 0, start).copy_(f.tensor("losses").slice(0, 0, start));  // to the device
      if (loop.load_extra) loop.load_extra(f);
      std::fprintf(stderr, "%s: resuming at step %lld of %lld\n", loop.name.c_str(), (long long)start,
                   (long long)loop.steps);
    }
  }
  module.train();
  Progress progress(loop.name + " training", loop.steps - start, "step");
  for (int64_t step = start; step < loop.steps;) {
    const int64_t begin = step, end = std::min(loop.steps, step + loop.check_every);
    for (; step < end; ++step) {
      torch::Tensor loss;
      {
        TrainingPrecision precision(loop.precision, device_of(module));
        loss = loop.loss(step, part).to(torch::kFloat32);
      }
      if (world > 1) loss = loss * share;
      opt.zero_grad();
      loss.backward();
      if (world > 1) {
        // The gradients and the loss summed over the ranks, in one collective.
        std::vector<torch::Tensor> sums{loss.detach().reshape({1})};
        for (auto& p : params) {
          if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
          sums.push_back(p.grad());
        }
        dist_sum(sums, loop.name + " training: summing the gradients of step " + std::to_string(step + 1));
        loss = sums[0].reshape({});
      }
      opt.step(cosine_lr(loop.lr, step, loop.steps));
      losses[step] = loss.detach();
      if (loop.after_step) loop.after_step(step);
    }
    // One host sync per block of steps: stop at the first non-finite loss.
    auto block = losses.slice(0, begin, end);
    if (!torch::isfinite(block).all().item<bool>()) {
      auto bad = (~torch::isfinite(losses.slice(0, 0, end))).nonzero()[0][0].item<int64_t>();
      throw Error(loop.name + " training: the loss became " + std::to_string(losses[bad].item<float>()) +
                  " at step " + std::to_string(bad + 1) + " of " + std::to_string(loop.steps) +
                  "; the last good state is kept in " + loop.partial_path +
                  " (it resumes from there); lower " + loop.name + ".lr and run again");
    }
    char buf[48];
    std::snprintf(buf, sizeof buf, "loss %.5f", block.mean().item<double>());
    progress.tick(end - begin, buf);
    if (end < loop.steps && is_main_rank()) {
      DictFile f;
      save_module(module, f, "model.");
      opt.save_state(f, "optim");
      f.set("step", end);
      f.set("steps", loop.steps);
      f.set_tensor("losses", losses);
      f.set("fingerprint", loop.fingerprint);
      if (loop.save_extra) loop.save_extra(f);
      f.save(loop.partial_path, "pdiff.train_partial", 1);
    }
  }
  progress.finish();
  // The summed gradients keep every rank's weights the same bits; checked, a few sums a tensor.
  if (world > 1) dist_check_same_weights(module, loop.name + " weights after training");
  losses = losses.cpu();
  if (is_main_rank()) {
    write_csv(loop.csv_path, losses, loop.steps);
    std::remove(loop.partial_path.c_str());
  }
  module.eval();
  return losses;
}

}  // namespace pdiff
