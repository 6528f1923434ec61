#include "zoo/activation_matching.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>

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

// (B, C) or (B, C, H, W) -> (C, samples) on the CPU: every sample of a (B, C) input; of a
// convolution's, at most `n` (image, pixel) positions, drawn by a fixed seed so that every
// network is sampled at the same positions.
torch::Tensor sampled_units(const torch::Tensor& input, int64_t n) {
  torch::Tensor units = input.movedim(1, 0).reshape({input.size(1), -1}).to(torch::kCPU, torch::kFloat32);
  if (input.dim() == 2 || units.size(1) <= n) return units;
  auto gen = at::detail::createCPUGenerator(0x5eed);
  const torch::Tensor positions = std::get<0>(torch::randperm(units.size(1), gen, torch::kLong).narrow(0, 0, n).sort());
  return units.index_select(1, positions);
}

}  // namespace

std::vector<std::vector<LayerInput>> activation_inputs(const Classifier& model, const std::string& arch,
                                                      const std::vector<PermutationGroup>& groups) {
  std::vector<std::vector<LayerInput>> out;
  for (const auto& g : groups) {
    std::vector<std::string> produced, read;
    for (const auto& a : g.axes) (a.axis == 0 ? produced : read).push_back(a.tensor);
    std::vector<LayerInput> inputs;
    for (int64_t s = 0; s < model->num_stages(); ++s) {
      const auto layers = model->stage_layers(s);
      for (size_t l = 0; l < layers.size(); ++l) {
        if (!params_use(layers[l], read)) continue;
        check(!params_use(layers[l], produced),
              "zoo.align = activations: the units of " + g.name + " are produced and read inside one layer of model.arch=" +
                  arch + ", where pdiff sees no activation of them; use zoo.align=weights");
        inputs.push_back({s, l});
      }
    }
    check(!inputs.empty(), "zoo.align = activations: no layer of model.arch=" + arch + " reads the units of " + g.name);
    out.push_back(inputs);
  }
  return out;
}

ActivationMatching::ActivationMatching(const Classifier& base, const ClassifierSpec& spec, const ParamLayout& layout,
                                       const std::vector<PermutationGroup>& groups, const DataSplits& data,
                                       int64_t batches, uint64_t seed, int64_t batch)
    : model_(clone_classifier(base, spec)), layout_(layout), groups_(groups), inputs_(activation_inputs(base, spec.arch, groups)) {
  check(batches > 0, "zoo.align_batches = " + std::to_string(batches) + ": activation matching needs at least one batch");
  const int64_t b = std::min<int64_t>(batch, data.train.size());
  BatchSchedule schedule(data, b, data_stream_seed(seed, kAlignmentStream));
  for (int64_t i = 0; i < batches; ++i) images_.push_back(model_->prepare_input(schedule.batch(i).first));
}

std::vector<torch::Tensor> ActivationMatching::activations(const torch::Tensor& row) const {
  torch::NoGradGuard no_grad;
  layout_.assign(model_, row.to(device_of(*model_)));
  model_->eval();
  const int64_t per_batch = std::max<int64_t>(1, kSamplesPerInput / static_cast<int64_t>(images_.size()));
  std::vector<std::vector<torch::Tensor>> parts(inputs_.size());
  for (const auto& x : images_) {
    torch::Tensor h = x;
    for (int64_t s = 0; s < model_->num_stages(); ++s)
      h = model_->forward_stage_showing(s, h, [&](size_t layer, const torch::Tensor& input) {
        for (size_t g = 0; g < inputs_.size(); ++g)
          for (const auto& at : inputs_[g])
            if (at.stage == s && at.layer == layer) parts[g].push_back(sampled_units(input, per_batch));
      });
  }
  std::vector<torch::Tensor> out;
  for (auto& p : parts) {
    const torch::Tensor z = torch::cat(p, 1).to(torch::kFloat64);
    // A unit that never fires has no correlation with any other: its row stays 0.
    out.push_back(unit_rows(z - z.mean(1, true)).to(torch::kFloat32));
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
  std::vector<torch::Tensor> perms, correlations;
  for (size_t g = 0; g < groups_.size(); ++g) {
    perms.push_back(torch::arange(groups_[g].size, torch::kLong));
    // correlation[i][j]: of reference unit i and other unit j, in [-1, 1].
    correlations.push_back(reference[g].to(torch::kFloat64).matmul(other[g].to(torch::kFloat64).t()));
  }
  // The tie-break compares a group's incoming weights with the other groups' units as aligned so
  // far. A residual stream and the blocks it feeds read each other, so no order of the groups has
  // every group's inputs aligned before it: passes over the groups until none changes, a group
  // solved again only when a neighbour changed (else it would get the same permutation back).
  const std::vector<std::vector<size_t>> neighbours = group_neighbours(groups_);
  std::vector<char> stale(groups_.size(), 1);
  for (int pass = 0; pass < kTieBreakPasses; ++pass) {
    bool changed = false;
    for (size_t g = 0; g < groups_.size(); ++g) {
      if (!stale[g]) continue;
      stale[g] = 0;
      torch::Tensor incoming = torch::zeros({groups_[g].size, groups_[g].size}, torch::kFloat64);
      for (const auto& a : groups_[g].axes) {
        if (a.axis != 0 || is_statistic(a.tensor)) continue;
        const torch::Tensor theirs = permuted_except(a.tensor, oth.at(a.tensor), groups_, perms, g);
        incoming += unit_rows(units_first(ref.at(a.tensor), 0)).matmul(unit_rows(units_first(theirs, 0)).t());
      }
      // The tie-break sums to less than 1e-6 over a whole assignment.
      const double tie_break =
          1e-6 / (static_cast<double>(groups_[g].size) * std::max<double>(1.0, incoming.abs().max().item<double>()));
      const torch::Tensor perm =
          torch::tensor(max_weight_assignment(correlations[g] + tie_break * incoming), torch::kLong);
      if (torch::equal(perm, perms[g])) continue;
      perms[g] = perm;
      changed = true;
      for (size_t h : neighbours[g]) stale[h] = 1;
    }
    if (!changed) break;
  }
  return perms;
}

}  // namespace pdiff
