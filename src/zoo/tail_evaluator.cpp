#include "zoo/tail_evaluator.h"

#include <algorithm>
#include <cstdlib>

#include "core/error.h"
#include "core/progress.h"
#include "core/run_context.h"
#include "io/mapped_file.h"
#include "kernels/dispatch.h"

namespace pdiff {

TailEvaluator::TailEvaluator(Classifier model, ParamLayout layout, Dataset test, bool full_forward,
                             int64_t chunk, int64_t models_per_pass)
    : model_(std::move(model)), layout_(std::move(layout)), test_(std::move(test)), chunk_(chunk) {
  model_->eval();
  const auto names = layout_.names();
  start_ = full_forward ? 0 : model_->first_stage_using(names);
  // A model's fast tail is hand-written CPU math (kernels/dispatch.h decides).
  fast_ = !full_forward && cpu_kernels_apply(*model_) && model_->prepare_fast_tail(start_, names);
  for (int64_t i = start_; i < model_->num_stages(); ++i) {
    const bool per_model = full_forward || model_->stage_uses(i, names);
    if (runs_.empty() || runs_.back().per_model != per_model) runs_.push_back({i, i + 1, per_model});
    else runs_.back().to = i + 1;
  }
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
  per_pass_ = fast_ ? 1 : models_per_pass > 0 ? models_per_pass : auto_models_per_pass();
}

int64_t TailEvaluator::auto_models_per_pass() {
  if (const char* env = std::getenv("PDIFF_MODELS_PER_PASS"); env != nullptr && *env != '\0') {
    const int64_t n = std::atoll(env);
    check(n >= 1, std::string("PDIFF_MODELS_PER_PASS: expected a whole number >= 1, got '") + env + "'");
    return n;
  }
  if (cache_.empty() || !device_of(*model_).is_cuda()) return 1;  // the CPU: measured no faster (docs/benchmarks.md)
  // As many models as keep a pass's activations (input, output, the stacking copy) of the
  // largest stage within 1 GiB; the largest stage measured on one image.
  torch::NoGradGuard ng;
  auto x = cache_.front().slice(0, 0, 1);
  int64_t peak = x.numel();
  for (int64_t i = start_; i < model_->num_stages(); ++i) {
    x = model_->forward_stage(i, x);
    peak = std::max<int64_t>(peak, x.numel());
  }
  const int64_t bytes_per_model = 3 * peak * cache_.front().size(0) * cache_.front().element_size();
  return std::clamp<int64_t>((int64_t{1} << 30) / std::max<int64_t>(bytes_per_model, 1), 1, 128);
}

torch::Tensor TailEvaluator::predict_pass(const torch::Tensor& params, int64_t first, int64_t count,
                                          const torch::Tensor& h) {
  if (count == 1) {  // the model is assigned already
    auto logits = fast_ ? model_->fast_tail_forward(start_, h) : model_->forward_range(h, start_, model_->num_stages());
    return logits.argmax(1).unsqueeze(0);
  }
  const int64_t n = h.size(0);
  torch::Tensor x;  // the models' activations stacked: rows [j n, (j + 1) n) are model j's
  for (const Run& run : runs_) {
    if (!run.per_model) {
      x = model_->forward_range(x, run.from, run.to);  // one launch for the whole pass
      continue;
    }
    std::vector<torch::Tensor> outs;
    for (int64_t j = 0; j < count; ++j) {
      // Assigned again for every run and chunk: D floats, against at least D multiply-adds per
      // image for the chunk's hundreds of images; holding a pass's activations for the whole
      // test set instead would cost models x images x activations of memory.
      layout_.assign(model_, params[first + j]);
      outs.push_back(model_->forward_range(x.defined() ? x.slice(0, j * n, (j + 1) * n) : h, run.from, run.to));
    }
    x = torch::cat(outs);
  }
  return x.argmax(1).view({count, n});
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
  for (int64_t first = 0; first < m; first += per_pass_) {
    const int64_t count = std::min(per_pass_, m - first);
    if (count == 1) layout_.assign(model_, params[first]);
    std::vector<torch::Tensor> preds;
    for (const auto& h : cache_) preds.push_back(predict_pass(params, first, count, h));
    auto p = torch::cat(preds, 1).cpu();  // (count, n)
    r.predictions.slice(0, first, first + count).copy_(p);
    auto correct = p.eq(test_.labels.unsqueeze(0)).sum(1);
    for (int64_t j = 0; j < count; ++j)
      r.accuracy[first + j] = 100.0 * correct[j].item<int64_t>() / static_cast<double>(n);
    for (int64_t j = first; j < first + count; ++j) release_pages(params[j]);  // a zoo read from disk stays on disk (io/mapped_file.h)
    if (progress) progress->tick(count);
  }
  return r;
}

}  // namespace pdiff
