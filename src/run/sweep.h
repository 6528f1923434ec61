// `pdiff sweep`: `pdiff run` over a grid of settings (run/sweep_grid.h for the syntax), each point
// in its own run directory OUT/POINT, redoing only the stages whose keys change: a stage whose
// outputs are current in another point's directory for this point's config is shared
// (run/stage_share.h), so a sweep of generator keys collects one zoo, and the baselines'
// evaluation is reused with it (eval/baseline_cache.h). Run directories that other sweeps left
// in OUT are shared from too. Writes OUT/NAME.md, OUT/NAME.json and OUT/NAME.png after every
// point. A second sweep with the same grid skips every finished point.
#pragma once
#include <string>
#include <vector>

namespace pdiff {

struct SweepArgs {
  std::string config_path;          // YAML file; empty: the built-in benchmark task
  std::vector<std::string> words;   // KEY=V1,V2 (swept) and KEY=V (fixed) words
  std::string out_dir = "runs/sweep";
  std::string name = "sweep";       // OUT/NAME.md, .json, .png: several sweeps may share one OUT
  std::string command;              // the command line, written under the table
};

// Parses the grid and loads every point's config first: bad input throws before anything runs
// or is written. A point that fails while running is reported and left out. Returns the number
// of points that failed.
int run_sweep(const SweepArgs& args);

}  // namespace pdiff
