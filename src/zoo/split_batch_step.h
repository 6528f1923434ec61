// One training step's forward and backward with the batch split over W workers, each on its
// own thread with one core and a replica of the model that shares its parameters. On this
// 2-core machine ConvNet-4's step is ~1.4x faster this way than as one pass on two cores
// (its oneDNN operators are too small to scale). Batch norm still sees the whole batch
// (kernels/batch_sync.h), so the gradients equal those of one pass up to float summation
// order, and they are the same bits from run to run.
//
// In a job of several processes the step is data-parallel: every rank takes its share of the
// batch (dist/group.h share_of), split further over its workers; batch statistics, gradients
// and the loss are summed over the ranks (Gloo), so every rank applies the same update.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "core/precision.h"
#include "models/classifier.h"

namespace pdiff {

// Workers for a training batch: one per torch thread, at most 8, each with >= 16 images;
// 1 when the model cannot split its batches.
// Under bf16 a step runs unsplit: autocast holds for the calling thread only.
int split_workers(const ClassifierImpl& model, int64_t batch, Precision precision = Precision::Fp32);

// Whether `model` trains data-parallel in this job: several ranks and batches that split
// exactly (every architecture of pdiff's own; a TorchScript module may hide batch statistics).
// Otherwise rank 0 trains alone.
bool trains_data_parallel(const ClassifierImpl& model);

class SplitBatchStep {
 public:
  // `data_parallel` (trains_data_parallel): the batch is also shared by the job's ranks, each
  // of `workers` on its share; `what` names the training in a collective's error.
  SplitBatchStep(Classifier model, const ClassifierSpec& spec, int workers, bool data_parallel = false,
                 const std::string& what = "training");
  ~SplitBatchStep();
  SplitBatchStep(const SplitBatchStep&) = delete;
  SplitBatchStep& operator=(const SplitBatchStep&) = delete;
  int workers() const { return workers_; }

  // Logits of a slice of the batch (the model given is the worker's own replica).
  using Forward = std::function<torch::Tensor(ClassifierImpl&, const torch::Tensor& images)>;
  // Adds the gradient of the mean cross-entropy over the whole batch (images, labels) to the
  // model's parameters' grad(), as loss.backward() does, and returns that loss (detached).
  // Data-parallel, every rank passes the whole batch and computes its share.
  torch::Tensor run(const torch::Tensor& images, const torch::Tensor& labels, const Forward& forward);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  const int workers_;
  const int ranks_, rank_;
  std::string what_;
};

}  // namespace pdiff
