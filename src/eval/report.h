// The run report: report.json (schema in docs/formats.md), report.md (summary table, similarity,
// fidelity, dominance, timings, the verdict in words) and the PNG plots, all written to the run
// directory.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "eval/evaluate.h"

namespace pdiff {

// Seconds of each stage read from the run directory's files, then eval and total.
std::vector<std::pair<std::string, double>> stage_timings(const std::string& dir, double eval_seconds);

// The summary table (markdown) of every group.
std::string summary_table(const EvalReport& report);

// The fidelity metrics of every group in both spaces, and the generated models against each
// baseline (markdown).
std::string fidelity_table(const EvalReport& report);
std::string dominance_table(const EvalReport& report);

void write_report(const RunContext& run, const EvalOptions& opts, const EvalReport& report);

}  // namespace pdiff
