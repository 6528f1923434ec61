// The config, turned into what each stage takes: the one place below the command line that
// reads a Config (besides run/'s own drivers). A stage's options struct holds its keys, read
// once here, and the fingerprint of the keys its outputs depend on: a stage's outputs are
// reused only while that fingerprint is unchanged (run/run.h).
#pragma once
#include <string>
#include <vector>

#include "core/config.h"
#include "core/run_context.h"
#include "eval/evaluate.h"
#include "gen/generate.h"
#include "gen/train.h"
#include "zoo/collect.h"

namespace pdiff {

// The run context of a config: run_dir, seed, the resolved config, device and threads
// (`threads`, or the variable PDIFF_THREADS; 0: every core). Pure: see apply_run_context.
RunContext run_context(const Config& cfg);
// Applies the process-wide settings: torch's threads, and the kernel choice of the variable
// PDIFF_KERNELS (kernels/dispatch.h). Every front end calls it once, before any stage.
void apply_run_context(const RunContext& run);
// Both: what a front end does first with its config.
RunContext open_run_context(const Config& cfg);

DataOptions data_options(const Config& cfg);
ModelOptions model_options(const Config& cfg);
CollectOptions collect_options(const Config& cfg);
TrainOptions train_options(const Config& cfg);
GenerateOptions generate_options(const Config& cfg);
ExportOptions export_options(const Config& cfg);
EvalOptions eval_options(const Config& cfg);

// The keys (or key prefixes) each stage's outputs depend on; each list holds the previous one.
const std::vector<std::string>& base_config_keys();
const std::vector<std::string>& collect_config_keys();
const std::vector<std::string>& ae_config_keys();
const std::vector<std::string>& ldm_config_keys();
const std::vector<std::string>& generate_config_keys();
const std::vector<std::string>& eval_config_keys();
// The fingerprint of a stage's outputs: its keys, and the training precision where it is not
// fp32 (so the runs made before that key existed stay current).
std::string stage_fingerprint(const Config& cfg, const std::vector<std::string>& keys);

}  // namespace pdiff
