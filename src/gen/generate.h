// `pdiff generate`: sample new parameter vectors from noise (reverse diffusion -> decoder ->
// un-standardise), evaluate each with the tail-only evaluator, and write generated.pt.
// `pdiff export`: one generated model as a full state dict PyTorch loads into the same arch.
#pragma once
#include <torch/torch.h>

#include "core/run_context.h"
#include "data/dataset.h"
#include "gen/model_files.h"
#include "models/classifier.h"
#include "zoo/layout.h"
#include "zoo/zoo_file.h"

namespace pdiff {

inline constexpr int64_t kGeneratedFormatVersion = 2;  // 2: zoo_fingerprint


struct Generated {
  torch::Tensor params;       // (N, D) float32
  torch::Tensor accuracy;     // (N) float32, percent
  torch::Tensor predictions;  // (N, test images) uint8
  ParamLayout layout;
  std::string fingerprint;
  std::string zoo_fingerprint;  // of the zoo.pt the generator was trained on
  double sample_seconds = 0, eval_seconds = 0;
};

// The generate.* keys, and the data and model the generated models are evaluated as.
struct GenerateOptions {
  DataOptions data;
  ModelOptions model;
  SamplingOptions sampling;
  int64_t n = 100;                 // models
  int64_t batch = 100;             // sampled at a time
  int64_t recalibrate_bn = 0;      // training batches that measure the BatchNorm statistics anew (eval/bn_recalibration.h)
  int64_t repair = 0;              // training batches the MLP's units are repaired on (eval/unit_repair.h)
  std::string fingerprint;         // of the keys generated.pt depends on (run/stage_options.h)
};

void generate(const RunContext& run, const GenerateOptions& opts);
Generated load_generated(const std::string& path);
// Throws unless generated.pt was made from this zoo.pt: a zoo re-collected with other
// settings but the same layout would otherwise be compared with models it did not produce.
void check_made_from(const Generated& g, const std::string& generated_path, const Zoo& zoo,
                     const std::string& zoo_path);

// Writes base.pt with model `index` of generated.pt in place of the selected parameters.
// The data and model it is rebuilt as.
struct ExportOptions {
  DataOptions data;
  ModelOptions model;
};
void export_model(const RunContext& run, const ExportOptions& opts, int64_t index, const std::string& out_path);

// Which generated models `pdiff export` writes: the given indices, the most accurate one, or all.
struct ExportChoice {
  std::vector<int64_t> indices;
  bool best = false;
  bool all = false;
};
// Each chosen model as a full state dict (and a TorchScript module for model.arch=torchscript):
// to out_path for one model (default RUN/generated_I.pt), into the folder out_path (default RUN)
// as generated_I.pt for several. Says each model's test accuracy; returns the files written.
std::vector<std::string> export_models(const RunContext& run, const ExportOptions& opts, const ExportChoice& which,
                                       const std::string& out_path);

// The files `pdiff export` wrote from an earlier generated.pt (generated_I.pt, generated_I.script.pt).
std::vector<std::string> exported_files(const std::string& dir);

}  // namespace pdiff
