// RUN_DIR/baselines.pt: the test-set results of the baseline groups' models, kept so that an
// eval after only the generator changed (`pdiff run` with other ae/ldm/generate keys, another
// point of `pdiff sweep` on the same zoo) does not evaluate the ~700 baseline models again.
// The baselines depend only on the zoo and on seed and eval.baseline_n; a stored result is used
// only when it was made on the same zoo (its config fingerprint and a hash of its predictions,
// which also change with the base model's other tensors and the test set) and its parameters
// equal the ones to evaluate bit for bit.
// Not here: the groups' statistics (max-IoU, fidelity), recomputed on every eval (cheap).
#pragma once
#include <optional>
#include <string>

#include <torch/torch.h>

#include "zoo/tail_evaluator.h"
#include "zoo/zoo_file.h"

namespace pdiff {

inline constexpr int64_t kBaselinesFormatVersion = 1;

// The stored result for `params` (M, D) drawn from `zoo`, or nothing when the file is missing,
// unreadable, of another zoo or of other parameters (the caller evaluates and saves anew).
std::optional<EvalResult> load_baseline_results(const std::string& path, const Zoo& zoo, const torch::Tensor& params);

void save_baseline_results(const std::string& path, const Zoo& zoo, const torch::Tensor& params,
                           const EvalResult& result);

}  // namespace pdiff
