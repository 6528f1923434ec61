#include "eval/unit_repair.h"

#include <algorithm>
#include <set>
#include <utility>

#include "core/error.h"
#include "core/run_context.h"
#include "zoo/batch_schedule.h"

namespace pdiff {

namespace {
// Each unit's pre-activation mean and (population) standard deviation over the images, in float64.
std::pair<torch::Tensor, torch::Tensor> unit_statistics(const torch::Tensor& pre_activation) {
  const torch::Tensor h = pre_activation.to(torch::kFloat64);
  return {h.mean(0), h.std(0, /*unbiased=*/false)};
}
}  // namespace

UnitRepair::UnitRepair(const Classifier& base, const ClassifierSpec& spec, const ParamLayout& layout,
                       const DataSplits& data, const torch::Tensor& originals, int64_t batches, uint64_t seed,
                       int64_t batch)
    : model_(clone_classifier(base, spec)), layout_(layout) {
  if (batches <= 0) return;
  check(spec.arch == "mlp", "generate.repair rescales the hidden units of an MLP (Linear + ReLU, model.arch=mlp), "
                            "not " + spec.arch + ": for networks with BatchNorm use generate.recalibrate_bn; "
                            "otherwise generate.repair=0");
  const auto names = layout.names();
  const std::set<std::string> held(names.begin(), names.end());
  const int64_t layers = static_cast<int64_t>(spec.mlp_hidden.size());
  for (int64_t l = 1; l <= layers; ++l) {
    const std::string name = "fc" + std::to_string(l);
    for (const char* t : {".weight", ".bias"})
      check(held.count(name + t) > 0, "generate.repair rescales every hidden unit's weights and bias, but the zoo's "
                                      "rows lack " + name + t + ": use zoo.select=all, or generate.repair=0");
    auto* fc = model_->named_modules("", /*include_self=*/false)[name]->as<torch::nn::Linear>();
    check(fc != nullptr, "generate.repair: " + name + " is not a Linear layer");
    hidden_.push_back(fc);
  }
  const int64_t b = std::min<int64_t>(batch, data.train.size());
  BatchSchedule schedule(data, b, data_stream_seed(seed, kRepairStream));
  for (int64_t i = 0; i < batches; ++i) images_.push_back(model_->prepare_input(schedule.batch(i).first).flatten(1));
  // The target: every original's statistics, averaged unit by unit.
  for (int64_t k = 0; k < originals.size(0); ++k) {
    const std::vector<torch::Tensor> s = statistics(originals[k]);
    if (k == 0) {
      target_ = s;
    } else {
      for (size_t i = 0; i < s.size(); ++i) target_[i] += s[i];
    }
  }
  for (auto& t : target_) t /= static_cast<double>(originals.size(0));
}

std::vector<torch::Tensor> UnitRepair::statistics(const torch::Tensor& row) const {
  torch::NoGradGuard no_grad;
  layout_.assign(model_, row.to(device_of(*model_)));
  std::vector<torch::Tensor> out;
  torch::Tensor x = torch::cat(images_);
  for (auto* fc : hidden_) {
    const torch::Tensor h = fc->forward(x);
    const auto [mean, std] = unit_statistics(h);
    out.push_back(mean);
    out.push_back(std);
    x = torch::relu(h);
  }
  return out;
}

torch::Tensor UnitRepair::operator()(const torch::Tensor& rows) const {
  if (!active()) return rows;
  torch::NoGradGuard no_grad;
  torch::Tensor out = rows.clone();
  const torch::Tensor images = torch::cat(images_);
  for (int64_t i = 0; i < rows.size(0); ++i) {
    layout_.assign(model_, rows[i].to(device_of(*model_)));
    torch::Tensor x = images;
    for (size_t l = 0; l < hidden_.size(); ++l) {
      auto* fc = hidden_[l];
      const auto [mean, std] = unit_statistics(fc->forward(x));
      // A unit that does not vary on these images (dead, or constant) has no spread to restore.
      const torch::Tensor live = std > 1e-6;
      const torch::Tensor gain = torch::where(live, target_[2 * l + 1] / std.clamp_min(1e-6), torch::ones_like(std));
      const torch::Tensor shift = torch::where(live, target_[2 * l] - mean * gain, torch::zeros_like(mean));
      const torch::Tensor g = gain.to(fc->weight.scalar_type()).to(fc->weight.device());
      fc->weight.mul_(g.unsqueeze(1));
      fc->bias.mul_(g).add_(shift.to(fc->bias.scalar_type()).to(fc->bias.device()));
      x = torch::relu(fc->forward(x));
    }
    out[i].copy_(layout_.flatten(model_).to(out.device()));
  }
  return out;
}

}  // namespace pdiff
