// Dominance on the two axes of the headline question: mean test accuracy (higher is better) and
// mean max-IoU to the originals (lower is more novel). The generated models dominate a group
// when their mean accuracy is >= the group's and their mean max-IoU <= the group's (ties count:
// issue 11's goal); they are dominated when the group is >= and <= with at least one strict;
// otherwise neither. Also each group's Pareto front over its own models, for the plot.
// Not here: the novelty verdict at "equal accuracy" (eval/evaluate.h).
#pragma once
#include <string>
#include <vector>

namespace pdiff {

struct EvalReport;

enum class Dominance { Dominates, Dominated, Neither };
const char* to_string(Dominance d);  // "dominates", "dominated", "neither"

// a against b on (mean accuracy, mean max-IoU). Any NaN: Neither.
Dominance compare(double acc_a, double sim_a, double acc_b, double sim_b);

// Indices of the Pareto front of points (sim, acc): those no other point matches or beats on
// both axes with one strictly better (of equal points, one), sorted by sim ascending (so acc
// ascends too). Non-finite points are left out.
std::vector<size_t> pareto_front(const std::vector<double>& sim, const std::vector<double>& acc);

// The baseline groups: every group but the originals, the generated models and the ensemble
// (one model, the originals' mean).
bool is_baseline(const std::string& group);

struct DominanceRow {
  std::string baseline;
  Dominance result;                    // generated against the baseline
  double acc_diff = 0, sim_diff = 0;   // generated minus baseline: points of accuracy, max-IoU
};
// One row per baseline group of the report, in report order.
std::vector<DominanceRow> dominance_of_generated(const EvalReport& report);
// The rows in words, for the verdict.
std::string dominance_verdict(const std::vector<DominanceRow>& rows);

// Whether this run meets docs/novelty.md's goal: the generated models dominate every baseline
// and are no more alike among themselves (mean generated-generated IoU) than the originals.
bool novelty_goal_met(const std::vector<DominanceRow>& rows, double generated_generated, double origin_origin);
// The same in words, with where the search for such a setting stands.
std::string novelty_goal_sentence(const std::vector<DominanceRow>& rows, double generated_generated,
                                  double origin_origin);

}  // namespace pdiff
