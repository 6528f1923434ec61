// zoo.align: the checkpoints of a zoo of separate trainings permuted to match the first one,
// before anything else sees the zoo (the autoencoder, the baselines, the distances).
#pragma once
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>

#include "data/dataset.h"
#include "models/classifier.h"
#include "zoo/activation_matching.h"
#include "zoo/layout.h"
#include "zoo/permutation_groups.h"

namespace pdiff {

// zoo.align and, for activation matching, the training images the networks are compared on.
struct AlignmentSetup {
  std::string method = "none";       // none, weights (zoo/weight_matching.h) or activations
  const DataSplits* data = nullptr;  // activations: zoo.align_batches batches of 128 from its
  int64_t batches = 8;               // training split, the same for every checkpoint
  uint64_t seed = 0;
  int64_t rounds = 0;                // zoo.align_rounds: to the average of the others afterwards
};

// Throws pdiff::Error, saying what to do, unless zoo.align = `align` can align zoos of this
// layout: "none", or "weights" / "activations" for an architecture with known permutation
// groups whose every permuted tensor is in the layout (and, for activations, whose every group
// is seen between two stages). Called before any checkpoint is read.
void check_alignable(const ParamLayout& layout, const Classifier& model, const std::string& arch,
                     const std::string& align);

// Aligns the rows of a zoo written one at a time (zoo.mode=scratch) to its row 0, which it
// keeps: row 0 is returned as it is and becomes the reference (or set_reference gives it, on a
// resumed collection). Inactive for zoo.align=none: rows come back unchanged. Row k's
// alignment depends on rows 0 and k only, so the zoo does not depend on the number of ranks
// or on resuming.
class RowAligner {
 public:
  RowAligner(const ParamLayout& layout, const Classifier& model, const ClassifierSpec& spec,
             const AlignmentSetup& setup);
  void set_reference(const torch::Tensor& row0);
  torch::Tensor operator()(const torch::Tensor& row, int64_t index);
  // `row` aligned to `reference`, any row (not counted in summary()); row itself when inactive.
  torch::Tensor align_to(const torch::Tensor& reference, const torch::Tensor& row, int64_t index) const;
  bool active() const { return active_; }
  // What the rows aligned so far cost: "zoo.align = weights: 199 checkpoints aligned in ...".
  std::string summary() const;

 private:
  std::string method_;
  int64_t aligned_ = 0;
  double seconds_ = 0;
  ParamLayout layout_;
  std::vector<PermutationGroup> groups_;
  torch::Tensor reference_;
  std::unique_ptr<ActivationMatching> activations_;  // zoo.align=activations
  std::vector<torch::Tensor> reference_activations_;
  bool active_ = false;
};

// One round of Git Re-Basin's MergeMany (Ainsworth et al. 2023, algorithm 3): rows 0..K-1, read
// with read(k), each aligned to the average of the other K-1 as they stand (rows before k
// already this round's) and handed to write(k, row), in order. One reference (checkpoint 0)
// leaves the others matched to its particular units; the average of the others is nearer every
// checkpoint, so the aligned zoo's average comes nearer to a network that works. The round
// depends on the rows alone (their sum is taken afresh), so a resumed collection repeats it
// exactly. Returns how many rows were permuted.
int64_t align_round_to_average(const RowAligner& aligner, int64_t k, const std::function<torch::Tensor(int64_t)>& read,
                               const std::function<void(int64_t, const torch::Tensor&)>& write);
// The line a round of align_round_to_average leaves on stderr.
void report_average_round(int64_t round, int64_t rounds, int64_t changed, int64_t k, double seconds);

// Rows 1.. of `rows` (K, D) aligned to row 0 (RowAligner), then setup.rounds rounds of every row
// to the average of the others (align_round_to_average), in place, with a progress line and a
// summary of the distances to row 0 before and after. Throws pdiff::Error, before changing any
// row, for an architecture without known permutation groups or a layout that lacks a tensor
// they permute.
void align_zoo_rows(torch::Tensor& rows, const ParamLayout& layout, const Classifier& model, const ClassifierSpec& spec,
                    const AlignmentSetup& setup);

}  // namespace pdiff
