#include "zoo/activation_matching.h"

#include "core/error.h"
#include "core/run_context.h"
#include "zoo/batch_schedule.h"
#include "zoo/linear_assignment.h"
#include "zoo/weight_matching.h"

namespace pdiff {

namespace {

// Every row scaled to norm 1 (float64); a zero row stays 0.
torch::Tensor unit_rows(const torch::Tensor& rows) {
  const torch::Tensor r = rows.to(torch::kFloat64);
  return r / r.norm(2, {1}, true).clamp_min(1e-12);
}

}  // namespace

std::vector<std::vector<int64_t>> activation_stages(const Classifier& model, const std::string& arch,
                                                   const std::vector<PermutationGroup>& groups) {
  std::vector<std::vector<int64_t>> out;
  for (const auto& g : groups) {
    std::vector<std::string> produced, read;
    for (const auto& a : g.axes) (a.axis == 0 ? produced : read).push_back(a.tensor);
    std::vector<int64_t> stages;
    for (int64_t s = 0; s < model->num_stages(); ++s) {
      if (!model->stage_uses(s, read)) continue;
      check(!model->stage_uses(s, produced),
            "zoo.align = activations: the units of " + g.name + " are produced and read inside one stage of model.arch=" +
                arch + ", where pdiff sees no activation of them; use zoo.align=weights");
      stages.push_back(s);
    }
    check(!stages.empty(), "zoo.align = activations: no stage of model.arch=" + arch + " reads the units of " + g.name);
    out.push_back(stages);
  }
  return out;
}

ActivationMatching::ActivationMatching(const Classifier& base, const ClassifierSpec& spec, const ParamLayout& layout,
                                       const std::vector<PermutationGroup>& groups, const DataSplits& data,
                                       int64_t batches, uint64_t seed, int64_t batch)
    : model_(clone_classifier(base, spec)), layout_(layout), groups_(groups), reading_stages_(activation_stages(base, spec.arch, groups)) {
  check(batches > 0, "zoo.align_batches = " + std::to_string(batches) + ": activation matching needs at least one batch");
  const int64_t b = std::min<int64_t>(batch, data.train.size());
  BatchSchedule schedule(data, b, data_stream_seed(seed, kAlignmentStream));
  for (int64_t i = 0; i < batches; ++i) images_.push_back(model_->prepare_input(schedule.batch(i).first));
}

std::vector<torch::Tensor> ActivationMatching::activations(const torch::Tensor& row) const {
  torch::NoGradGuard no_grad;
  layout_.assign(model_, row.to(device_of(*model_)));
  model_->eval();
  std::vector<std::vector<torch::Tensor>> parts(reading_stages_.size());
  for (const auto& x : images_) {
    torch::Tensor h = x;
    for (int64_t s = 0; s < model_->num_stages(); ++s) {
      for (size_t g = 0; g < reading_stages_.size(); ++g)
        for (int64_t r : reading_stages_[g])
          if (r == s)  // (B, C) or (B, C, H, W) -> (C, samples)
            parts[g].push_back(h.movedim(1, 0).reshape({h.size(1), -1}).to(torch::kCPU, torch::kFloat64));
      h = model_->forward_stage(s, h);
    }
  }
  std::vector<torch::Tensor> out;
  for (auto& p : parts) {
    const torch::Tensor z = torch::cat(p, 1);
    // A unit that never fires has no correlation with any other: its row stays 0.
    out.push_back(unit_rows(z - z.mean(1, true)));
  }
  return out;
}

std::vector<torch::Tensor> ActivationMatching::match(const std::vector<torch::Tensor>& reference,
                                                     const torch::Tensor& reference_row,
                                                     const std::vector<torch::Tensor>& other,
                                                     const torch::Tensor& other_row) const {
  check(reference.size() == groups_.size() && other.size() == groups_.size(),
        "activation matching: one activation matrix per group");
  const TensorsByName ref = named_tensors(layout_, reference_row), oth = named_tensors(layout_, other_row);
  std::vector<torch::Tensor> perms;
  for (const auto& g : groups_) perms.push_back(torch::arange(g.size, torch::kLong));
  // Forward order: a group's incoming weights are compared with the earlier groups' units aligned.
  for (size_t g = 0; g < groups_.size(); ++g) {
    torch::Tensor incoming = torch::zeros({groups_[g].size, groups_[g].size}, torch::kFloat64);
    for (const auto& a : groups_[g].axes) {
      if (a.axis != 0 || is_statistic(a.tensor)) continue;
      const torch::Tensor theirs = permuted_except(a.tensor, oth.at(a.tensor), groups_, perms, g);
      incoming += unit_rows(units_first(ref.at(a.tensor), 0)).matmul(unit_rows(units_first(theirs, 0)).t());
    }
    // score[i][j]: correlation of reference unit i and other unit j (in [-1, 1]); the tie-break
    // sums to less than 1e-6 over a whole assignment.
    const double tie_break = 1e-6 / (static_cast<double>(groups_[g].size) * std::max<double>(1.0, incoming.abs().max().item<double>()));
    perms[g] = torch::tensor(max_weight_assignment(reference[g].matmul(other[g].t()) + tie_break * incoming), torch::kLong);
  }
  return perms;
}

}  // namespace pdiff
