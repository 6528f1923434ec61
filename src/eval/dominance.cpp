#include "eval/dominance.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "eval/evaluate.h"

namespace pdiff {

const char* to_string(Dominance d) {
  switch (d) {
    case Dominance::Dominates: return "dominates";
    case Dominance::Dominated: return "dominated";
    case Dominance::Neither: return "neither";
  }
  return "neither";
}

Dominance compare(double acc_a, double sim_a, double acc_b, double sim_b) {
  if (std::isnan(acc_a) || std::isnan(sim_a) || std::isnan(acc_b) || std::isnan(sim_b)) return Dominance::Neither;
  if (acc_a >= acc_b && sim_a <= sim_b) return Dominance::Dominates;
  if (acc_b >= acc_a && sim_b <= sim_a) return Dominance::Dominated;  // one is strict: not both equal
  return Dominance::Neither;
}

std::vector<size_t> pareto_front(const std::vector<double>& sim, const std::vector<double>& acc) {
  std::vector<size_t> idx;
  for (size_t i = 0; i < sim.size() && i < acc.size(); ++i)
    if (std::isfinite(sim[i]) && std::isfinite(acc[i])) idx.push_back(i);
  // Most novel first; at equal novelty the most accurate first, so the others are dominated.
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
    return sim[a] != sim[b] ? sim[a] < sim[b] : acc[a] > acc[b];
  });
  std::vector<size_t> front;
  for (size_t i : idx)
    if (front.empty() || acc[i] > acc[front.back()]) front.push_back(i);
  return front;
}

bool is_baseline(const std::string& group) {
  return group != "original" && group != "generated" && group != "ensemble";
}

std::vector<DominanceRow> dominance_of_generated(const EvalReport& r) {
  const auto& gen = r.group("generated");
  std::vector<DominanceRow> rows;
  for (const auto& g : r.groups) {
    if (!is_baseline(g.name)) continue;
    rows.push_back({g.name, compare(gen.acc.mean, gen.max_sim_mean, g.acc.mean, g.max_sim_mean),
                    gen.acc.mean - g.acc.mean, gen.max_sim_mean - g.max_sim_mean});
  }
  return rows;
}

std::string dominance_verdict(const std::vector<DominanceRow>& rows) {
  std::string text = "Dominance (the generated models dominate a baseline when their mean accuracy is >= its mean "
                     "and their mean max-IoU <= its mean; they are dominated when the baseline is >= and <= with "
                     "one strict): ";
  if (rows.empty()) return text + "there are no baselines to compare with.";
  // One sentence per baseline, with the two differences it rests on.
  size_t dominated_baselines = 0;
  for (const auto& row : rows) {
    char numbers[96];
    std::snprintf(numbers, sizeof numbers, " (accuracy %+.2f points, max-IoU %+.3f)", row.acc_diff, row.sim_diff);
    std::string relation;
    if (row.result == Dominance::Dominates) relation = "the generated models dominate it", ++dominated_baselines;
    else if (row.result == Dominance::Dominated) relation = "it dominates the generated models";
    else if (std::isnan(row.acc_diff) || std::isnan(row.sim_diff)) relation = "not comparable, a figure is undefined";
    else if (row.acc_diff > 0) relation = "neither: the generated models are more accurate but less novel";
    else relation = "neither: the generated models are more novel but less accurate";
    text += row.baseline + ": " + relation + (relation.rfind("not comparable", 0) == 0 ? "" : numbers) + ". ";
  }
  if (dominated_baselines == rows.size()) text += "The generated models dominate every baseline.";
  else
    text += "The generated models dominate " + std::to_string(dominated_baselines) + " of " +
            std::to_string(rows.size()) + " baselines.";
  return text;
}

bool novelty_goal_met(const std::vector<DominanceRow>& rows, double generated_generated, double origin_origin) {
  if (rows.empty() || !(generated_generated <= origin_origin)) return false;  // NaN: not met
  for (const auto& row : rows)
    if (row.result != Dominance::Dominates) return false;
  return true;
}

std::string novelty_goal_sentence(const std::vector<DominanceRow>& rows, double generated_generated,
                                  double origin_origin) {
  char buf[160];
  std::snprintf(buf, sizeof buf, " (generated-generated IoU %.3f, originals %.3f)", generated_generated, origin_origin);
  if (novelty_goal_met(rows, generated_generated, origin_origin))
    return std::string("Goal met: the generated models dominate every baseline and are as diverse as the originals") +
           buf + ".";
  return std::string("Goal not met: the generated models do not both dominate every baseline and stay as diverse as "
                     "the originals") + buf + ". No setting swept on the benchmark task meets it; docs/novelty.md has "
                     "the sweeps and the best front found.";
}

}  // namespace pdiff
