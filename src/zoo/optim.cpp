#include "zoo/optim.h"

#include <cmath>

#include "core/error.h"

namespace pdiff {

namespace {
void save_list(DictFile& f, const std::string& key, const std::vector<torch::Tensor>& ts) {
  c10::List<torch::Tensor> list;
  for (const auto& t : ts) list.push_back(t.cpu());
  f.set(key, list);
}

void load_list(const DictFile& f, const std::string& key, std::vector<torch::Tensor>& dst) {
  auto v = f.dict().at(key);
  check(v.isTensorList() || v.isList(), f.path() + ": key '" + key + "' is not a tensor list");
  auto list = v.toListRef();
  check(list.size() == dst.size(), f.path() + ": key '" + key + "' holds " + std::to_string(list.size()) +
                                       " tensors, the optimizer has " + std::to_string(dst.size()));
  torch::NoGradGuard ng;
  for (size_t i = 0; i < dst.size(); ++i) {
    auto t = list[i].toTensor();
    check(t.sizes() == dst[i].sizes(), f.path() + ": key '" + key + "' tensor " + std::to_string(i) + " has the wrong shape");
    dst[i].copy_(t);
  }
}
}  // namespace

void Optimizer::zero_grad() {
  for (auto& p : params_)
    if (p.grad().defined()) p.mutable_grad().zero_();
}

Sgd::Sgd(std::vector<torch::Tensor> params, double momentum, double weight_decay)
    : Optimizer(std::move(params)), momentum_(momentum), weight_decay_(weight_decay) {
  for (const auto& p : params_) buf_.push_back(torch::zeros_like(p));
}

void Sgd::step(double lr) {
  torch::NoGradGuard ng;
  for (size_t i = 0; i < params_.size(); ++i) {
    auto& p = params_[i];
    if (!p.grad().defined()) continue;
    auto g = p.grad();
    if (weight_decay_ != 0) g = g.add(p, weight_decay_);
    buf_[i].mul_(momentum_).add_(g);  // PyTorch's SGD: first step starts from a zero buffer too
    p.add_(buf_[i], -lr);
  }
}

void Sgd::save_state(DictFile& f, const std::string& prefix) const { save_list(f, prefix + ".momentum", buf_); }
void Sgd::load_state(const DictFile& f, const std::string& prefix) { load_list(f, prefix + ".momentum", buf_); }

AdamW::AdamW(std::vector<torch::Tensor> params, double weight_decay, double beta1, double beta2, double eps)
    : Optimizer(std::move(params)), wd_(weight_decay), b1_(beta1), b2_(beta2), eps_(eps) {
  for (const auto& p : params_) {
    m_.push_back(torch::zeros_like(p));
    v_.push_back(torch::zeros_like(p));
  }
}

void AdamW::step(double lr) {
  torch::NoGradGuard ng;
  ++t_;
  const double bc1 = 1 - std::pow(b1_, t_), bc2 = 1 - std::pow(b2_, t_);
  for (size_t i = 0; i < params_.size(); ++i) {
    auto& p = params_[i];
    if (!p.grad().defined()) continue;
    const auto& g = p.grad();
    if (wd_ != 0) p.mul_(1 - lr * wd_);
    m_[i].mul_(b1_).add_(g, 1 - b1_);
    v_[i].mul_(b2_).addcmul_(g, g, 1 - b2_);
    auto denom = (v_[i] / bc2).sqrt_().add_(eps_);
    p.addcdiv_(m_[i], denom, -lr / bc1);
  }
}

void AdamW::save_state(DictFile& f, const std::string& prefix) const {
  save_list(f, prefix + ".exp_avg", m_);
  save_list(f, prefix + ".exp_avg_sq", v_);
  f.set(prefix + ".step", t_);
}

void AdamW::load_state(const DictFile& f, const std::string& prefix) {
  load_list(f, prefix + ".exp_avg", m_);
  load_list(f, prefix + ".exp_avg_sq", v_);
  t_ = f.integer(prefix + ".step");
}

double cosine_lr(double lr, int64_t t, int64_t total) {
  if (total <= 0) return lr;
  return 0.5 * lr * (1 + std::cos(M_PI * static_cast<double>(t) / static_cast<double>(total)));
}

}  // namespace pdiff
