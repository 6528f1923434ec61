#include "eval/bn_recalibration.h"

#include <set>

#include "core/error.h"
#include "core/run_context.h"
#include "zoo/batch_schedule.h"

namespace pdiff {

BnRecalibration::BnRecalibration(const Classifier& base, const ClassifierSpec& spec, const ParamLayout& layout,
                                 const DataSplits& data, int64_t batches, uint64_t seed, int64_t batch)
    : model_(clone_classifier(base, spec)), layout_(layout) {
  if (batches <= 0) return;
  const auto names = layout.names();
  const std::set<std::string> held(names.begin(), names.end());
  for (const auto& m : model_->named_modules("", /*include_self=*/false)) {
    auto* bn = m.value()->as<torch::nn::BatchNorm2d>();
    if (!bn) continue;
    const bool mean = held.count(m.key() + ".running_mean") > 0, var = held.count(m.key() + ".running_var") > 0;
    check(mean == var, "generate.recalibrate_bn: the zoo holds only one of " + m.key() + "'s running statistics");
    if (!mean) continue;
    recalibrated_.push_back(bn);
    momentum_.push_back(bn->options.momentum());
  }
  check(!recalibrated_.empty(),
        "generate.recalibrate_bn = " + std::to_string(batches) + " recomputes the BatchNorm running statistics the "
        "zoo's rows hold, but this zoo holds none (a subset selection keeps the base's statistics, frozen; a network "
        "without BatchNorm has none): use zoo.select=whole (or zoo.import_stats=own for imports), or "
        "generate.recalibrate_bn=0");
  const int64_t b = std::min<int64_t>(batch, data.train.size());
  BatchSchedule schedule(data, b, data_stream_seed(seed, 6));
  for (int64_t i = 0; i < batches; ++i) images_.push_back(model_->prepare_input(schedule.batch(i).first));
}

torch::Tensor BnRecalibration::operator()(const torch::Tensor& rows) const {
  if (!active()) return rows;
  torch::NoGradGuard no_grad;
  torch::Tensor out = rows.clone();
  for (int64_t i = 0; i < rows.size(0); ++i) {
    layout_.assign(model_, rows[i].to(device_of(*model_)));
    model_->eval();
    for (auto* bn : recalibrated_) {
      bn->train();
      bn->reset_running_stats();
      bn->options.momentum(c10::nullopt);  // the cumulative average over the batches
    }
    for (const auto& x : images_) model_->forward(x);
    for (size_t j = 0; j < recalibrated_.size(); ++j) recalibrated_[j]->options.momentum(momentum_[j]);
    model_->eval();
    out[i].copy_(layout_.flatten(model_).to(out.device()));
  }
  return out;
}

}  // namespace pdiff
