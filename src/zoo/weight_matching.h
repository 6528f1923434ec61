// Weight matching (Ainsworth, Hayase and Srinivasa, "Git Re-Basin", 2023): the permutations of
// one network's units that bring its weights closest to a reference network's, so that
// separately trained networks can be averaged, interpolated or generated unit by unit.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "zoo/permutation_groups.h"
#include "zoo/layout.h"

namespace pdiff {

using TensorsByName = std::map<std::string, torch::Tensor>;

// Whether a state-dict name is a BatchNorm running statistic (moved with its units, never matched).
bool is_statistic(const std::string& name);

// `t` (the tensor `name`) with the permutations of every group but `skip` applied along their axes.
torch::Tensor permuted_except(const std::string& name, torch::Tensor t, const std::vector<PermutationGroup>& groups,
                              const std::vector<torch::Tensor>& perms, size_t skip);

// Per group, the other groups that permute one of its tensors (running statistics aside): the
// groups whose solution can change when its permutation does.
std::vector<std::vector<size_t>> group_neighbours(const std::vector<PermutationGroup>& groups);

// Rows of (size, -1): the tensor's `axis` first.
torch::Tensor units_first(const torch::Tensor& t, int64_t axis);

// One permutation per group (int64, the group's size): unit i of the aligned network is unit
// perm[i] of `other`. Coordinate ascent on the summed inner products of the two networks'
// weights (BatchNorm running statistics are moved, not matched): each step solves one group's
// linear assignment with the other groups' permutations fixed; the groups are visited in an
// order drawn from `seed` each round, until a whole round improves nothing (at most
// `max_rounds`). Every tensor the groups name must be in both.
std::vector<torch::Tensor> weight_matching(const TensorsByName& reference, const TensorsByName& other,
                                           const std::vector<PermutationGroup>& groups, uint64_t seed = 0,
                                           int max_rounds = 100);

// `tensors` with every group's permutation applied (tensors no group names are shared as they are).
TensorsByName permuted(const TensorsByName& tensors, const std::vector<PermutationGroup>& groups,
                      const std::vector<torch::Tensor>& perms);

// The tensors of a flat zoo row (D) by name (views of the row).
TensorsByName named_tensors(const ParamLayout& layout, const torch::Tensor& row);

// `row` (D under `layout`) with every group's permutation applied; a new row.
torch::Tensor permuted_row(const ParamLayout& layout, const std::vector<PermutationGroup>& groups,
                           const torch::Tensor& row, const std::vector<torch::Tensor>& perms);

// `row` aligned to `reference` (both D under `layout`) by weight matching; a new row. Throws
// naming the first tensor a group permutes that the layout lacks: a selection of part of the
// network cannot be aligned (zoo.select=all, or whole for networks with BatchNorm).
torch::Tensor align_row(const ParamLayout& layout, const std::vector<PermutationGroup>& groups,
                        const torch::Tensor& reference, const torch::Tensor& row, uint64_t seed = 0);

}  // namespace pdiff
