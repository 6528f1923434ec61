// `pdiff run`: the whole method from one command: collect, train, generate, evaluate. A stage
// whose outputs exist for the same config is skipped; a stage whose config changed is redone,
// and so is every stage after it. Ends with the summary table.
#pragma once
#include "core/config.h"

namespace pdiff {

// Whether each stage's outputs in the run directory are current for this config.
struct StageStatus {
  bool collect = false, ae = false, train = false, generate = false, eval = false;  // train: ae and ldm
};
StageStatus stage_status(const Config& cfg);

void run_all(const Config& cfg);

}  // namespace pdiff
