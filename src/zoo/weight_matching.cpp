#include "zoo/weight_matching.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "zoo/linear_assignment.h"
#include "core/error.h"

namespace pdiff {

bool is_statistic(const std::string& name) {
  auto ends_with = [&](const std::string& tail) {
    return name.size() >= tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
  };
  return ends_with(".running_mean") || ends_with(".running_var");
}

torch::Tensor permuted_except(const std::string& name, torch::Tensor t, const std::vector<PermutationGroup>& groups,
                              const std::vector<torch::Tensor>& perms, size_t skip) {
  for (size_t g = 0; g < groups.size(); ++g) {
    if (g == skip) continue;
    for (const auto& a : groups[g].axes)
      if (a.tensor == name) t = t.index_select(a.axis, perms[g]);
  }
  return t;
}

torch::Tensor units_first(const torch::Tensor& t, int64_t axis) {
  return t.movedim(axis, 0).reshape({t.size(axis), -1});
}

std::vector<std::vector<size_t>> group_neighbours(const std::vector<PermutationGroup>& groups) {
  std::vector<std::vector<size_t>> neighbours(groups.size());
  for (size_t g = 0; g < groups.size(); ++g)
    for (size_t h = 0; h < groups.size(); ++h) {
      if (h == g) continue;
      bool shared = false;
      for (const auto& a : groups[g].axes)
        for (const auto& b : groups[h].axes) shared = shared || (a.tensor == b.tensor && !is_statistic(a.tensor));
      if (shared) neighbours[g].push_back(h);
    }
  return neighbours;
}

std::vector<torch::Tensor> weight_matching(const TensorsByName& reference, const TensorsByName& other,
                                           const std::vector<PermutationGroup>& groups, uint64_t seed,
                                           int max_rounds) {
  // The matched tensors in float32 (half the time of float64 products: the scores only rank
  // assignments), the reference's units-first once: every round reads them again.
  TensorsByName ref_units, other32;  // ref_units by "tensor/axis"
  for (const auto& g : groups)
    for (const auto& a : g.axes) {
      if (is_statistic(a.tensor)) continue;
      const auto r = reference.find(a.tensor), o = other.find(a.tensor);
      check(r != reference.end(), "weight matching: the reference network has no tensor " + a.tensor);
      check(o != other.end(), "weight matching: the other network has no tensor " + a.tensor);
      ref_units[a.tensor + "/" + std::to_string(a.axis)] = units_first(r->second.detach().to(torch::kFloat32), a.axis);
      other32[a.tensor] = o->second.detach().to(torch::kFloat32);
    }
  // A group's scores change only when a group that permutes one of its tensors changes: the
  // groups whose neighbours did not change since they were solved are skipped (they would keep
  // their permutation), which leaves the result as if every group were solved every round.
  const std::vector<std::vector<size_t>> neighbours = group_neighbours(groups);
  std::vector<char> stale(groups.size(), 1);
  std::vector<torch::Tensor> perms;
  for (const auto& g : groups) perms.push_back(torch::arange(g.size, torch::kLong));
  std::vector<size_t> order(groups.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  for (int round = 0; round < max_rounds; ++round) {
    std::shuffle(order.begin(), order.end(), rng);
    bool improved = false;
    for (size_t g : order) {
      if (!stale[g]) continue;
      stale[g] = 0;
      const PermutationGroup& group = groups[g];
      torch::Tensor score = torch::zeros({group.size, group.size}, torch::kFloat32);
      for (const auto& a : group.axes) {
        if (is_statistic(a.tensor)) continue;
        const torch::Tensor oth = units_first(permuted_except(a.tensor, other32.at(a.tensor), groups, perms, g), a.axis);
        score.addmm_(ref_units.at(a.tensor + "/" + std::to_string(a.axis)), oth.t());  // [i][j]: reference unit i, other unit j
      }
      const torch::Tensor score64 = score.to(torch::kFloat64);
      const torch::Tensor candidate = torch::tensor(max_weight_assignment(score64), torch::kLong);
      const auto total = [&](const torch::Tensor& p) { return score64.gather(1, p.unsqueeze(1)).sum().item<double>(); };
      // Strictly better by more than float32 rounding, so that ties cannot cycle.
      const double current = total(perms[g]);
      if (total(candidate) > current + 1e-6 * std::max(1.0, std::abs(current))) {
        perms[g] = candidate;
        improved = true;
        for (size_t h : neighbours[g]) stale[h] = 1;
      }
    }
    if (!improved) break;
  }
  return perms;
}

TensorsByName permuted(const TensorsByName& tensors, const std::vector<PermutationGroup>& groups,
                      const std::vector<torch::Tensor>& perms) {
  check(perms.size() == groups.size(), "permuted: one permutation per group");
  TensorsByName out = tensors;
  for (size_t g = 0; g < groups.size(); ++g)
    for (const auto& a : groups[g].axes) {
      auto it = out.find(a.tensor);
      check(it != out.end(), "permuted: no tensor " + a.tensor + " for group " + groups[g].name);
      it->second = it->second.index_select(a.axis, perms[g].to(it->second.device()));
    }
  return out;
}

TensorsByName named_tensors(const ParamLayout& layout, const torch::Tensor& row) {
  TensorsByName out;
  for (const auto& e : layout.entries()) out[e.name] = row.narrow(0, e.offset, e.numel).view(e.shape);
  return out;
}

torch::Tensor align_row(const ParamLayout& layout, const std::vector<PermutationGroup>& groups,
                        const torch::Tensor& reference, const torch::Tensor& row, uint64_t seed) {
  const TensorsByName ref = named_tensors(layout, reference), oth = named_tensors(layout, row);
  for (const auto& g : groups)
    for (const auto& a : g.axes)
      check(oth.count(a.tensor), "align_row: the layout lacks " + a.tensor + ", which group " + g.name + " permutes");
  return permuted_row(layout, groups, row, weight_matching(ref, oth, groups, seed));
}

torch::Tensor permuted_row(const ParamLayout& layout, const std::vector<PermutationGroup>& groups,
                           const torch::Tensor& row, const std::vector<torch::Tensor>& perms) {
  const TensorsByName aligned = permuted(named_tensors(layout, row), groups, perms);
  torch::Tensor out = torch::empty_like(row);
  for (const auto& e : layout.entries()) out.narrow(0, e.offset, e.numel).copy_(aligned.at(e.name).reshape(-1));
  return out;
}

}  // namespace pdiff
