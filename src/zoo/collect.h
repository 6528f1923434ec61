// `pdiff collect`: train the base model, then train only the selected subset and keep K
// checkpoints (one per iteration, per epoch, or per independent run), evaluate every one on
// the test set with the tail-only evaluator, and write base.pt and zoo.pt to the run directory.
// Interrupted runs resume from base.partial.pt / zoo.partial.pt.
#pragma once
#include "core/config.h"

namespace pdiff {

// Keys whose values the collection depends on (a change invalidates base.pt / zoo.pt).
const std::vector<std::string>& base_config_keys();
const std::vector<std::string>& collect_config_keys();

void collect(const Config& cfg);

}  // namespace pdiff
