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
  check(align == "weights", "zoo.align = " + align + ": use none or weights");
  const std::vector<std::string> names = layout.names();
  for (const auto& g : permutation_groups(model, arch))
    for (const auto& a : g.axes)
      check(std::find(names.begin(), names.end(), a.tensor) != names.end(),
            "zoo.align = weights: the zoo's selection lacks " + a.tensor + ", which aligning " + g.name +
                " permutes; align whole networks (zoo.select=all, or whole for networks with BatchNorm)");
}

RowAligner::RowAligner(const ParamLayout& layout, const Classifier& model, const std::string& arch,
                       const std::string& align)
    : layout_(layout), active_(align != "none") {
  check_alignable(layout, model, arch, align);
  if (active_) groups_ = permutation_groups(model, arch);
}

torch::Tensor RowAligner::operator()(const torch::Tensor& row, int64_t index) {
  if (!active_) return row;
  if (!reference_.defined()) {
    check(index == 0, "zoo.align: row " + std::to_string(index) + " came before the zoo's row 0, its reference");
    reference_ = row.clone();
    return row;
  }
  return align_row(layout_, groups_, reference_, row, static_cast<uint64_t>(index));
}

void align_zoo_rows(torch::Tensor& rows, const ParamLayout& layout, const Classifier& model, const std::string& arch,
                    const std::string& align) {
  RowAligner aligner(layout, model, arch, align);
  if (!aligner.active()) return;
  const int64_t k = rows.size(0);
  const torch::Tensor before = (rows - rows[0]).norm(2, {1}).slice(0, 1);
  Progress progress("zoo align", k, "ckpt");
  for (int64_t i = 0; i < k; ++i) {
    rows[i].copy_(aligner(rows[i], i));
    progress.tick(1);
  }
  progress.finish();
  if (k > 1) {
    const torch::Tensor after = (rows - rows[0]).norm(2, {1}).slice(0, 1);
    std::fprintf(stderr, "zoo.align = weights: mean L2 distance to checkpoint 0 %.4g -> %.4g\n",
                 before.mean().item<double>(), after.mean().item<double>());
  }
}

}  // namespace pdiff
