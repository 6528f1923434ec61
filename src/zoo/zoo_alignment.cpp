#include "zoo/zoo_alignment.h"

#include <algorithm>
#include <cstdio>

#include "zoo/weight_matching.h"
#include "core/error.h"
#include "core/progress.h"

namespace pdiff {

void check_alignable(const ParamLayout& layout, const Classifier& model, const std::string& arch,
                     const std::string& align) {
  if (align == "none") return;
  check(align == "weights" || align == "activations", "zoo.align = " + align + ": use none, weights or activations");
  const std::vector<std::string> names = layout.names();
  const std::vector<PermutationGroup> groups = permutation_groups(model, arch);
  if (align == "activations") activation_inputs(model, arch, groups);
  for (const auto& g : groups)
    for (const auto& a : g.axes)
      check(std::find(names.begin(), names.end(), a.tensor) != names.end(),
            "zoo.align = " + align + ": the zoo's selection lacks " + a.tensor + ", which aligning " + g.name +
                " permutes; align whole networks (zoo.select=all, or whole for networks with BatchNorm)");
}

RowAligner::RowAligner(const ParamLayout& layout, const Classifier& model, const ClassifierSpec& spec,
                       const AlignmentSetup& setup)
    : method_(setup.method), layout_(layout), active_(setup.method != "none") {
  check_alignable(layout, model, spec.arch, setup.method);
  if (!active_) return;
  groups_ = permutation_groups(model, spec.arch);
  if (setup.method == "activations") {
    check(setup.data != nullptr, "zoo.align = activations: no training images to compare the networks on");
    activations_ = std::make_unique<ActivationMatching>(model, spec, layout, groups_, *setup.data, setup.batches,
                                                        setup.seed);
  }
}

void RowAligner::set_reference(const torch::Tensor& row0) {
  reference_ = row0.clone();
  if (activations_) reference_activations_ = activations_->activations(reference_);
}

torch::Tensor RowAligner::operator()(const torch::Tensor& row, int64_t index) {
  if (!active_) return row;
  if (!reference_.defined()) {
    check(index == 0, "zoo.align: row " + std::to_string(index) + " came before the zoo's row 0, its reference");
    set_reference(row);
    return row;
  }
  const Stopwatch timer;
  const torch::Tensor out =
      activations_ ? permuted_row(layout_, groups_, row,
                                  activations_->match(reference_activations_, reference_, activations_->activations(row), row))
                   : align_row(layout_, groups_, reference_, row, static_cast<uint64_t>(index));
  seconds_ += timer.seconds();
  ++aligned_;
  return out;
}

torch::Tensor RowAligner::align_to(const torch::Tensor& reference, const torch::Tensor& row, int64_t index) const {
  if (!active_) return row;
  if (!activations_) return align_row(layout_, groups_, reference, row, static_cast<uint64_t>(index));
  return permuted_row(layout_, groups_, row,
                      activations_->match(activations_->activations(reference), reference,
                                          activations_->activations(row), row));
}

int64_t align_round_to_average(const RowAligner& aligner, int64_t k, const std::function<torch::Tensor(int64_t)>& read,
                               const std::function<void(int64_t, const torch::Tensor&)>& write) {
  check(k > 1, "zoo.align_rounds: aligning to the average of the others needs at least two checkpoints");
  torch::Tensor sum = read(0).to(torch::kFloat64);  // float64: K updates below must not drift
  for (int64_t i = 1; i < k; ++i) sum += read(i).to(torch::kFloat64);
  int64_t changed = 0;
  Progress progress("zoo align to average", k, "ckpt");
  for (int64_t i = 0; i < k; ++i) {
    const torch::Tensor row = read(i).to(torch::kFloat32);
    const torch::Tensor others = ((sum - row.to(torch::kFloat64)) / static_cast<double>(k - 1)).to(torch::kFloat32);
    const torch::Tensor aligned = aligner.align_to(others, row, i);
    if (!torch::equal(aligned, row)) {
      ++changed;
      sum += aligned.to(torch::kFloat64) - row.to(torch::kFloat64);
    }
    write(i, aligned);
    progress.tick(1);
  }
  progress.finish();
  return changed;
}

std::string RowAligner::summary() const {
  char text[200];
  std::snprintf(text, sizeof text, "zoo.align = %s: %lld checkpoints aligned to checkpoint 0 in %.1f s (%.2f s each)",
                method_.c_str(), static_cast<long long>(aligned_), seconds_, aligned_ ? seconds_ / aligned_ : 0.0);
  return text;
}

void report_average_round(int64_t round, int64_t rounds, int64_t changed, int64_t k, double seconds) {
  std::fprintf(stderr,
               "zoo.align_rounds: round %lld of %lld to the average of the others: %lld of %lld checkpoints permuted "
               "(%.1f s)\n",
               static_cast<long long>(round + 1), static_cast<long long>(rounds), static_cast<long long>(changed),
               static_cast<long long>(k), seconds);
}

void align_zoo_rows(torch::Tensor& rows, const ParamLayout& layout, const Classifier& model, const ClassifierSpec& spec,
                    const AlignmentSetup& setup) {
  RowAligner aligner(layout, model, spec, setup);
  if (!aligner.active()) return;
  const int64_t k = rows.size(0);
  const torch::Tensor before = (rows - rows[0]).norm(2, {1}).slice(0, 1);
  const double spread_before = (rows - rows.mean(0)).norm(2, {1}).mean().item<double>();
  Progress progress("zoo align", k, "ckpt");
  for (int64_t i = 0; i < k; ++i) {
    rows[i].copy_(aligner(rows[i], i));
    progress.tick(1);
  }
  progress.finish();
  std::fprintf(stderr, "%s\n", aligner.summary().c_str());
  if (k > 1 && setup.rounds > 0) {
    for (int64_t round = 0; round < setup.rounds; ++round) {
      const Stopwatch timer;
      const int64_t changed = align_round_to_average(
          aligner, k, [&](int64_t i) { return rows[i]; },  // row i is read before it is written
          [&](int64_t i, const torch::Tensor& row) { rows[i].copy_(row); });
      report_average_round(round, setup.rounds, changed, k, timer.seconds());
      if (changed == 0) break;  // a fixed point: later rounds would change nothing either
    }
  }
  if (k > 1) {
    const torch::Tensor after = (rows - rows[0]).norm(2, {1}).slice(0, 1);
    std::fprintf(stderr, "zoo.align = %s: mean L2 distance to checkpoint 0 %.4g -> %.4g, to the zoo's average %.4g -> %.4g\n",
                 setup.method.c_str(), before.mean().item<double>(), after.mean().item<double>(), spread_before,
                 (rows - rows.mean(0)).norm(2, {1}).mean().item<double>());
  }
}

}  // namespace pdiff
