// Sharing finished stages between run directories (`pdiff sweep`): a stage whose outputs in
// another run directory are current for this config (the same fingerprint of its keys, so the
// same inputs) is not recomputed; its files are hard-linked in (copied where links fail). Every
// writer replaces files by rename, so a linked file is never changed under the other directory.
#pragma once
#include <string>
#include <vector>

#include "core/config.h"
#include "run/run.h"

namespace pdiff {

// The stages that can be shared, in order, and the files each writes (missing optional ones,
// such as baselines.pt before the first eval, are skipped). Eval is never shared: its report
// names its own run directory. baselines.pt travels with the zoo (eval/baseline_cache.h).
struct SharedStage {
  const char* name;
  std::vector<const char*> files;
};
const std::vector<SharedStage>& shared_stages();

// How many stages, from the first, are current (0: none, 4: collect, the autoencoder, the
// diffusion model and generate).
int current_depth(const StageStatus& s);

// Links into cfg's run_dir the outputs of the deepest run of current stages found among
// `candidates` (run directories) for this config, when deeper than the run_dir's own. Returns
// the number of stages taken and sets *from to the directory they came from.
int share_stages(const Config& cfg, const std::vector<std::string>& candidates, std::string* from);

}  // namespace pdiff
