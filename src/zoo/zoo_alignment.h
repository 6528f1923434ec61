// zoo.align: the checkpoints of a zoo of separate trainings permuted to match the first one,
// before anything else sees the zoo (the autoencoder, the baselines, the distances).
#pragma once
#include <torch/torch.h>

#include <string>

#include "models/classifier.h"
#include "zoo/layout.h"
#include "zoo/permutation_groups.h"

namespace pdiff {

// Rows 1.. of `rows` (K, D) aligned to row 0 by weight matching (zoo/weight_matching.h),
// in place, with a progress line and a summary of the distances to row 0 before and after.
// `align`: "none" (nothing happens) or "weights". Throws pdiff::Error, before changing any row,
// for an architecture without known permutation groups or a layout that lacks a tensor they
// permute.
// Throws pdiff::Error, saying what to do, unless zoo.align = `align` can align zoos of this
// layout: "none", or "weights" for an architecture with known permutation groups whose every
// permuted tensor is in the layout. Called before any checkpoint is read.
void check_alignable(const ParamLayout& layout, const Classifier& model, const std::string& arch,
                     const std::string& align);

// Aligns the rows of a zoo written one at a time (zoo.mode=scratch) to its row 0, which it
// keeps: row 0 is returned as it is and becomes the reference (or set_reference gives it, on a
// resumed collection). Inactive for zoo.align=none: rows come back unchanged. Row k's
// alignment depends on rows 0 and k only, so the zoo does not depend on the number of ranks
// or on resuming.
class RowAligner {
 public:
  RowAligner(const ParamLayout& layout, const Classifier& model, const std::string& arch, const std::string& align);
  void set_reference(const torch::Tensor& row0) { reference_ = row0.clone(); }
  torch::Tensor operator()(const torch::Tensor& row, int64_t index);
  bool active() const { return active_; }

 private:
  ParamLayout layout_;
  std::vector<PermutationGroup> groups_;
  torch::Tensor reference_;
  bool active_ = false;
};

void align_zoo_rows(torch::Tensor& rows, const ParamLayout& layout, const Classifier& model, const std::string& arch,
                    const std::string& align);

}  // namespace pdiff
