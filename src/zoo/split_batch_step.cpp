#include "zoo/split_batch_step.h"

#include <omp.h>

#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "dist/group.h"
#include "kernels/batch_sync.h"
#include "kernels/dispatch.h"

namespace pdiff {

int split_workers(const ClassifierImpl& model, int64_t batch, Precision precision) {
  if (precision == Precision::Bf16) return 1;
  // The split's batch norms are hand-written CPU kernels (kernels/dispatch.h decides).
  if (!model.supports_split_batches() || !model.splits_faster_on_cores() || !cpu_kernels_apply(model)) return 1;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>({torch::get_num_threads(), 8, batch / 16})));
}

bool trains_data_parallel(const ClassifierImpl& model) { return dist_world() > 1 && model.supports_split_batches(); }

struct SplitBatchStep::Impl {
  Classifier model;
  std::vector<Classifier> replicas;  // workers 1..W-1; worker 0 is the calling thread on `model`
  BatchSync sync;
  std::vector<std::thread> threads;

  std::mutex mutex;
  std::condition_variable changed;
  long job = 0;      // incremented for each step
  int pending = 0;   // helper threads still working on the current step
  bool stop = false;
  const torch::Tensor* images = nullptr;
  const torch::Tensor* labels = nullptr;
  const Forward* forward = nullptr;
  Share mine;  // this rank's rows of the batch (all of them in one process)
  std::vector<torch::Tensor> losses;
  std::vector<std::exception_ptr> errors;

  Impl(Classifier m, int workers, BatchSync::Outer outer)
      : model(std::move(m)), sync(workers, std::move(outer)), losses(workers), errors(workers) {}

  // Worker w's share: forward and backward on its slice, batch norms sharing statistics.
  void run_share(int w) {
    const int64_t n = images->size(0), W = static_cast<int64_t>(losses.size());
    const int64_t begin = mine.begin + mine.size() * w / W, end = mine.begin + mine.size() * (w + 1) / W;
    ClassifierImpl& m = w == 0 ? *model : *replicas[w - 1];
    SplitBatchScope scope(sync, w);
    auto logits = (*forward)(m, images->slice(0, begin, end));
    auto loss = torch::nn::functional::cross_entropy(
                    logits, labels->slice(0, begin, end).to(logits.device()),
                    torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum)) /
                double(n);
    loss.backward();
    losses[w] = loss.detach();
  }

  void helper_loop(int w) {
    at::get_num_threads();  // LibTorch sets this thread's OpenMP threads on first use...
    omp_set_num_threads(1);  // ...then one core per worker
    long seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait(lock, [&] { return stop || job != seen; });
        if (stop) return;
        seen = job;
      }
      try {
        run_share(w);
      } catch (...) {
        errors[w] = std::current_exception();
        sync.abort();  // the other workers must not wait for this one's statistics
      }
      std::lock_guard<std::mutex> lock(mutex);
      if (--pending == 0) changed.notify_all();
    }
  }

  // Points every replica parameter at the model's storage and copies its requires_grad
  // and training mode: the optimizer updates the model in place, the replicas follow.
  void mirror_model() {
    auto params = model->parameters();
    for (auto& replica : replicas) {
      replica->train(model->is_training());
      auto rp = replica->parameters();
      for (size_t i = 0; i < params.size(); ++i) {
        if (rp[i].data_ptr() != params[i].data_ptr()) rp[i].set_data(params[i].detach());
        rp[i].set_requires_grad(params[i].requires_grad());
        rp[i].mutable_grad() = torch::Tensor();
      }
    }
  }

  // Adds the replicas' gradients to the model's, in worker order.
  void gather_gradients() {
    auto params = model->parameters();
    for (auto& replica : replicas) {
      auto rp = replica->parameters();
      for (size_t i = 0; i < params.size(); ++i) {
        const auto& g = rp[i].grad();
        if (!g.defined()) continue;
        if (params[i].grad().defined()) params[i].mutable_grad().add_(g);
        else params[i].mutable_grad() = g.clone();
      }
    }
  }
};

SplitBatchStep::SplitBatchStep(Classifier model, const ClassifierSpec& spec, int workers, bool data_parallel,
                               const std::string& what)
    : workers_(std::max(1, workers)), ranks_(data_parallel ? dist_world() : 1), rank_(data_parallel ? dist_rank() : 0) {
  TORCH_CHECK((workers_ == 1 && ranks_ == 1) || model->supports_split_batches(),
              "SplitBatchStep: this model's batches cannot be split (batch statistics)");
  BatchSync::Outer outer;
  if (ranks_ > 1)
    outer = [what](std::vector<double>& v) {
      auto t = torch::from_blob(v.data(), {static_cast<int64_t>(v.size())}, torch::kFloat64);
      dist_sum({t}, what + ": summing batch statistics over the ranks");
    };
  impl_ = std::make_unique<Impl>(model, workers_, std::move(outer));
  what_ = what;
  for (int w = 1; w < workers_; ++w) impl_->replicas.push_back(clone_classifier(model, spec));
  for (int w = 1; w < workers_; ++w) impl_->threads.emplace_back([this, w] { impl_->helper_loop(w); });
}

SplitBatchStep::~SplitBatchStep() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stop = true;
  }
  impl_->changed.notify_all();
  for (auto& t : impl_->threads) t.join();
}

torch::Tensor SplitBatchStep::run(const torch::Tensor& images, const torch::Tensor& labels, const Forward& forward) {
  if (workers_ == 1 && ranks_ == 1) {
    auto loss = torch::nn::functional::cross_entropy(forward(*impl_->model, images), labels.to(images.device()));
    loss.backward();
    return loss.detach();
  }
  Impl& s = *impl_;
  s.mine = share_of(images.size(0), rank_, ranks_);
  check(s.mine.size() >= workers_, what_ + ": a batch of " + std::to_string(images.size(0)) + " images is too small for " +
                                       std::to_string(ranks_) + " ranks of " + std::to_string(workers_) +
                                       " workers, which share every batch; raise the batch or run fewer ranks");
  for (const auto& e : s.errors)
    if (e) std::rethrow_exception(e);  // a failed step leaves the split unusable
  s.mirror_model();
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.images = &images;
    s.labels = &labels;
    s.forward = &forward;
    s.pending = workers_ - 1;
    ++s.job;
  }
  s.changed.notify_all();

  const int threads = omp_get_max_threads();
  if (workers_ > 1) omp_set_num_threads(1);  // one core per worker; a rank's only worker keeps them all
  try {
    s.run_share(0);
  } catch (...) {
    s.errors[0] = std::current_exception();
    s.sync.abort();
  }
  omp_set_num_threads(threads);
  {
    std::unique_lock<std::mutex> lock(s.mutex);
    s.changed.wait(lock, [&] { return s.pending == 0; });
  }
  // Report the failure that caused the others (they only say "aborted").
  std::exception_ptr first;
  for (const auto& e : s.errors) {
    if (!e) continue;
    try {
      std::rethrow_exception(e);
    } catch (const BatchSplitAborted&) {
      if (!first) first = e;
    } catch (...) {
      std::rethrow_exception(e);
    }
  }
  if (first) std::rethrow_exception(first);

  s.gather_gradients();
  auto loss = s.losses[0];
  for (int w = 1; w < workers_; ++w) loss = loss + s.losses[w];
  if (ranks_ > 1) {
    // The loss and the gradients summed over the ranks, in one collective: every rank then
    // applies the same update to the same weights.
    std::vector<torch::Tensor> sums{loss.reshape({1})};
    for (auto& p : s.model->parameters()) {
      if (!p.requires_grad()) continue;
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      sums.push_back(p.grad());
    }
    dist_sum(sums, what_ + ": summing the gradients over the ranks");
    loss = sums[0].reshape({});
  }
  return loss;
}

}  // namespace pdiff
