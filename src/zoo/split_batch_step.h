// One training step's forward and backward with the batch split over W workers, each on its
// own thread with one core and a replica of the model that shares its parameters. On this
// 2-core machine ConvNet-4's step is ~1.4x faster this way than as one pass on two cores
// (its oneDNN operators are too small to scale). Batch norm still sees the whole batch
// (kernels/batch_sync.h), so the gradients equal those of one pass up to float summation
// order, and they are the same bits from run to run.
#pragma once
#include <functional>
#include <memory>

#include "core/precision.h"
#include "models/classifier.h"

namespace pdiff {

// Workers for a training batch: one per torch thread, at most 8, each with >= 16 images;
// 1 when the model cannot split its batches.
// Under bf16 a step runs unsplit: autocast holds for the calling thread only.
int split_workers(const ClassifierImpl& model, int64_t batch, Precision precision = Precision::Fp32);

class SplitBatchStep {
 public:
  SplitBatchStep(Classifier model, const ClassifierSpec& spec, int workers);
  ~SplitBatchStep();
  SplitBatchStep(const SplitBatchStep&) = delete;
  SplitBatchStep& operator=(const SplitBatchStep&) = delete;
  int workers() const { return workers_; }

  // Logits of a slice of the batch (the model given is the worker's own replica).
  using Forward = std::function<torch::Tensor(ClassifierImpl&, const torch::Tensor& images)>;
  // Adds the gradient of the mean cross-entropy over the whole batch (images, labels) to the
  // model's parameters' grad(), as loss.backward() does, and returns that loss (detached).
  torch::Tensor run(const torch::Tensor& images, const torch::Tensor& labels, const Forward& forward);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  const int workers_;
};

}  // namespace pdiff
