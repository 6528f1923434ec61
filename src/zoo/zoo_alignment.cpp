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

void align_zoo_rows(torch::Tensor& rows, const ParamLayout& layout, const Classifier& model, const std::string& arch,
                    const std::string& align) {
  check_alignable(layout, model, arch, align);
  if (align == "none") return;
  const std::vector<PermutationGroup> groups = permutation_groups(model, arch);
  const int64_t k = rows.size(0);
  const torch::Tensor before = (rows - rows[0]).norm(2, {1}).slice(0, 1);
  Progress progress("zoo align", k - 1, "ckpt");
  for (int64_t i = 1; i < k; ++i) {
    rows[i].copy_(align_row(layout, groups, rows[0], rows[i], static_cast<uint64_t>(i)));
    progress.tick(1);
  }
  progress.finish();
  if (k > 1) {
    const torch::Tensor after = (rows - rows[0]).norm(2, {1}).slice(0, 1);
    std::fprintf(stderr, "zoo.align = weights: %zu permutation groups; mean L2 distance to checkpoint 0 %.4g -> %.4g\n",
                 groups.size(), before.mean().item<double>(), after.mean().item<double>());
  }
}

}  // namespace pdiff
