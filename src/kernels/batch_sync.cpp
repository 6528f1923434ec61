#include "kernels/batch_sync.h"

namespace pdiff {

BatchSync::BatchSync(int workers, Outer outer) : workers_(workers), outer_(std::move(outer)), partials_(workers) {}

std::vector<double> BatchSync::all_reduce(int worker, const std::vector<double>& partial) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (aborted_) throw BatchSplitAborted();
  partials_[worker] = partial;
  const long generation = generation_;
  if (++arrived_ == workers_) {
    result_.assign(partial.size(), 0.0);
    for (const auto& p : partials_) {
      if (p.size() != result_.size()) {
        aborted_ = true;
        changed_.notify_all();
        throw std::logic_error("batch split: workers reduced vectors of different lengths");
      }
      for (size_t i = 0; i < p.size(); ++i) result_[i] += p[i];
    }
    if (outer_) {
      try {
        outer_(result_);  // the other workers wait: one collective per reduction
      } catch (...) {
        aborted_ = true;
        changed_.notify_all();
        throw;
      }
    }
    arrived_ = 0;
    ++generation_;
    changed_.notify_all();
    return result_;
  }
  changed_.wait(lock, [&] { return generation_ != generation || aborted_; });
  if (generation_ == generation) throw BatchSplitAborted();
  // result_ stays valid until every worker, this one included, has arrived again.
  return result_;
}

void BatchSync::abort() {
  std::lock_guard<std::mutex> lock(mutex_);
  aborted_ = true;
  changed_.notify_all();
}

namespace {
thread_local const BatchSplit* tls_split = nullptr;
}

std::vector<double> BatchSplit::sum(const BatchSplit* split, const std::vector<double>& partial) {
  return split ? split->sync->all_reduce(split->worker, partial) : partial;
}

const BatchSplit* current_batch_split() { return tls_split; }

torch::Tensor sum_over_split(const BatchSplit* split, const torch::Tensor& partial) {
  if (!split) return partial;
  auto p = partial.to(torch::kFloat64).contiguous();
  auto total = BatchSplit::sum(split, std::vector<double>(p.data_ptr<double>(), p.data_ptr<double>() + p.numel()));
  return torch::tensor(total, torch::kFloat64).view(p.sizes());
}

BatchMoments whole_batch_moments(const BatchSplit* split, const torch::Tensor& sum, const torch::Tensor& sumsq,
                                 double rows, torch::Tensor running_mean, torch::Tensor running_var,
                                 torch::Tensor num_batches_tracked, double momentum) {
  const int64_t c = sum.numel();
  auto totals = sum_over_split(split, torch::cat({sum.view(-1), sumsq.view(-1), torch::full({1}, rows, torch::kFloat64)}));
  BatchMoments m{totals.slice(0, 0, c), {}, totals[2 * c].item<double>()};
  m.mean /= m.rows;
  m.var = (totals.slice(0, c, 2 * c) / m.rows - m.mean * m.mean).clamp_min(0);
  if (!split || split->worker == 0) {
    torch::NoGradGuard ng;
    num_batches_tracked.add_(1);
    const double f = momentum >= 0 ? momentum : 1.0 / num_batches_tracked.item<double>();
    running_mean.mul_(1 - f).add_(m.mean.to(torch::kFloat32), f);
    running_var.mul_(1 - f).add_((m.var * (m.rows / std::max(m.rows - 1, 1.0))).to(torch::kFloat32), f);
  }
  return m;
}

void save_split(torch::autograd::AutogradContext* ctx, const BatchSplit* split) {
  ctx->saved_data["split_sync"] = split ? reinterpret_cast<int64_t>(split->sync) : int64_t(0);
  ctx->saved_data["split_worker"] = split ? int64_t(split->worker) : int64_t(0);
}

std::optional<BatchSplit> saved_split(torch::autograd::AutogradContext* ctx) {
  auto* sync = reinterpret_cast<BatchSync*>(ctx->saved_data["split_sync"].toInt());
  if (!sync) return std::nullopt;
  return BatchSplit{sync, int(ctx->saved_data["split_worker"].toInt())};
}

SplitBatchScope::SplitBatchScope(BatchSync& sync, int worker) : split_{&sync, worker}, previous_(tls_split) {
  tls_split = &split_;
}

SplitBatchScope::~SplitBatchScope() { tls_split = previous_; }

}  // namespace pdiff
