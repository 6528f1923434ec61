// SGD with momentum and AdamW over a list of tensors, written out so that their whole state
// is a few tensors that a checkpoint can hold: training resumes exactly after an interruption.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "io/file_io.h"

namespace pdiff {

class Optimizer {
 public:
  explicit Optimizer(std::vector<torch::Tensor> params) : params_(std::move(params)) {}
  virtual ~Optimizer() = default;
  // One update with the gradients currently in params[i].grad(), at learning rate lr.
  virtual void step(double lr) = 0;
  void zero_grad();
  // Saves / restores the state under keys "<prefix>.*" of a dict file.
  virtual void save_state(DictFile& f, const std::string& prefix) const = 0;
  virtual void load_state(const DictFile& f, const std::string& prefix) = 0;

 protected:
  std::vector<torch::Tensor> params_;
};

class Sgd : public Optimizer {
 public:
  Sgd(std::vector<torch::Tensor> params, double momentum, double weight_decay);
  void step(double lr) override;
  void save_state(DictFile& f, const std::string& prefix) const override;
  void load_state(const DictFile& f, const std::string& prefix) override;

 private:
  double momentum_, weight_decay_;
  std::vector<torch::Tensor> buf_;
};

class AdamW : public Optimizer {
 public:
  AdamW(std::vector<torch::Tensor> params, double weight_decay, double beta1 = 0.9,
        double beta2 = 0.999, double eps = 1e-8);
  void step(double lr) override;
  void save_state(DictFile& f, const std::string& prefix) const override;
  void load_state(const DictFile& f, const std::string& prefix) override;

 private:
  double wd_, b1_, b2_, eps_;
  int64_t t_ = 0;
  std::vector<torch::Tensor> m_, v_;
};

// Cosine decay from lr to 0 over `total` steps, evaluated at step `t` (0-based).
double cosine_lr(double lr, int64_t t, int64_t total);

}  // namespace pdiff
