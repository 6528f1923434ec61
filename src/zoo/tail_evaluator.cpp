#include "zoo/tail_evaluator.h"

#include "core/error.h"
#include "io/mapped_file.h"
#include "core/progress.h"
#include "kernels/dispatch.h"

namespace pdiff {

TailEvaluator::TailEvaluator(Classifier model, ParamLayout layout, Dataset test, bool full_forward,
                             int64_t chunk)
    : model_(std::move(model)), layout_(std::move(layout)), test_(std::move(test)), chunk_(chunk) {
  model_->eval();
  start_ = full_forward ? 0 : model_->first_stage_using(layout_.names());
  // A model's fast tail is hand-written CPU math (kernels/dispatch.h decides).
  const auto params = model_->parameters();
  const torch::Tensor any_param = params.empty() ? torch::Tensor(torch::zeros({})) : params.front();
  fast_ = !full_forward && cpu_kernels_apply(any_param.device(), any_param.scalar_type()) &&
          model_->prepare_fast_tail(start_, layout_.names());
  torch::NoGradGuard ng;
  // The prefix runs on slices of 100 images: when large blocks were still mapped afresh by
  // malloc (before core/runtime.cpp kept them), 500-image activations were page-faulted anew.
  const int64_t slice = std::min<int64_t>(chunk_, 100);
  for (int64_t b = 0; b < test_.size(); b += chunk_) {
    std::vector<torch::Tensor> parts;
    for (int64_t s = b; s < std::min(b + chunk_, test_.size()); s += slice) {
      auto x = model_->prepare_input(test_.images.slice(0, s, std::min({s + slice, b + chunk_, test_.size()})));
      parts.push_back(model_->forward_range(x, 0, start_));
    }
    auto h = parts.size() == 1 ? parts[0] : torch::cat(parts);
    cache_.push_back(fast_ ? model_->fast_tail_cache(start_, h) : h);
  }
}

EvalResult TailEvaluator::evaluate(const torch::Tensor& params, const std::string& label) {
  check(params.dim() == 2 && params.size(1) == layout_.dim(),
        "evaluate: expected parameter vectors (M, " + std::to_string(layout_.dim()) + "), got " +
            c10::str(params.sizes()));
  torch::NoGradGuard ng;
  const int64_t m = params.size(0), n = test_.size();
  EvalResult r{torch::empty({m, n}, torch::kUInt8), torch::empty({m}, torch::kFloat64)};
  std::unique_ptr<Progress> progress;
  if (m > 1 && !label.empty()) progress = std::make_unique<Progress>(label, m, "models");
  auto pred_acc = r.accuracy.accessor<double, 1>();
  for (int64_t i = 0; i < m; ++i) {
    layout_.assign(model_, params[i]);
    release_pages(params[i]);  // a zoo read from disk stays on disk (io/mapped_file.h)
    std::vector<torch::Tensor> preds;
    for (const auto& h : cache_) {
      auto logits = fast_ ? model_->fast_tail_forward(start_, h) : model_->forward_range(h, start_, model_->num_stages());
      preds.push_back(logits.argmax(1));
    }
    auto p = torch::cat(preds).cpu();
    r.predictions[i].copy_(p);
    pred_acc[i] = 100.0 * p.eq(test_.labels).sum().item<int64_t>() / static_cast<double>(n);
    if (progress) progress->tick(1);
  }
  return r;
}

}  // namespace pdiff
