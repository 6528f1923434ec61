// Batch statistics shared by the workers of a split batch (zoo/split_batch_step.h). A
// training step can run as W workers, each on a slice of the batch, one core each: on this
// 2-core machine that is ~1.4x faster than one worker on two cores, whose small oneDNN
// operators scale poorly. Batch norm must still see the whole batch, so its layers add their
// per-slice sums through a BatchSync before normalising, forward and backward. In a
// data-parallel job the batch is split over the ranks too, and the sums cross them (Outer).
#pragma once
#include <torch/torch.h>

#include <condition_variable>
#include <functional>
#include <optional>
#include <mutex>
#include <vector>

namespace pdiff {

// Thrown to a worker waiting for statistics that will not come: another worker failed.
struct BatchSplitAborted : std::runtime_error {
  BatchSplitAborted() : std::runtime_error("batch split aborted: another worker failed") {}
};

class BatchSync {
 public:
  // Sums a vector over the other processes of a data-parallel job, in place (the same bits on
  // every rank); called once per reduction, by the last worker to arrive.
  using Outer = std::function<void(std::vector<double>&)>;
  explicit BatchSync(int workers, Outer outer = nullptr);
  int workers() const { return workers_; }
  // Every worker calls this with a vector of the same length; each gets the element-wise sum
  // over workers, added in worker order (the same bits whichever worker arrives first).
  // Throws BatchSplitAborted once abort() was called: no worker waits forever for a failed one.
  std::vector<double> all_reduce(int worker, const std::vector<double>& partial);
  void abort();

 private:
  const int workers_;
  const Outer outer_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::vector<double>> partials_;
  std::vector<double> result_;
  int arrived_ = 0;
  long generation_ = 0;
  bool aborted_ = false;
};

// The split a thread's batch-norm layers take part in: set for the duration of one worker's
// forward and backward (SplitBatchScope); null when the layer sees the whole batch.
struct BatchSplit {
  BatchSync* sync;
  int worker;
  // Sums `partial` over the workers, or returns it as is when split is null.
  static std::vector<double> sum(const BatchSplit* split, const std::vector<double>& partial);
};
const BatchSplit* current_batch_split();

// A float64 tensor summed over the split's workers (returned as is without a split).
torch::Tensor sum_over_split(const BatchSplit* split, const torch::Tensor& partial);
// A batch norm's statistics over the whole batch: a slice's per-channel sums and sums of
// squares (float64, C each) and its row count, added over the split. The running statistics
// (momentum < 0: cumulative average) are updated by worker 0 only, as BatchNorm2d does.
struct BatchMoments {
  torch::Tensor mean, var;  // float64 (C); var is the biased variance used to normalise
  double rows;
};
BatchMoments whole_batch_moments(const BatchSplit* split, const torch::Tensor& sum, const torch::Tensor& sumsq,
                                 double rows, torch::Tensor running_mean, torch::Tensor running_var,
                                 torch::Tensor num_batches_tracked, double momentum);

// An autograd op's forward saves the current split for its backward, which may run after
// the scope that set it has ended (the BatchSync outlives both).
void save_split(torch::autograd::AutogradContext* ctx, const BatchSplit* split);
std::optional<BatchSplit> saved_split(torch::autograd::AutogradContext* ctx);

class SplitBatchScope {
 public:
  SplitBatchScope(BatchSync& sync, int worker);
  ~SplitBatchScope();
  SplitBatchScope(const SplitBatchScope&) = delete;
  SplitBatchScope& operator=(const SplitBatchScope&) = delete;

 private:
  BatchSplit split_;
  const BatchSplit* previous_;
};

}  // namespace pdiff
