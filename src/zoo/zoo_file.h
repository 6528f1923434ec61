// The files of the collection stage: `base.pt` (the base model's full state dict, loadable by
// PyTorch's load_state_dict) and `zoo.pt` (the K checkpoints of the selected subset).
#pragma once
#include <torch/torch.h>

#include <string>

#include "io/file_io.h"
#include "io/rows_writer.h"
#include "data/dataset.h"
#include "models/classifier.h"
#include "zoo/layout.h"

namespace pdiff {

inline constexpr int64_t kZooFormatVersion = 1;

struct Zoo {
  torch::Tensor params;       // (K, D) float32
  torch::Tensor accuracy;     // (K) float32, test accuracy in percent
  torch::Tensor predictions;  // (K, N) uint8, predicted class of every test image
  ParamLayout layout;
  std::string arch;
  std::string config_yaml;    // resolved config of the run that collected it
  std::string fingerprint;    // of the config keys the collection depends on
  double base_accuracy = 0;   // percent
  double collect_seconds = 0; // wall time of the collection that wrote it
};

void save_zoo(const std::string& path, const Zoo& zoo);
// zoo.pt from the checkpoints appended to `rows` (zoo.params is ignored): the collection writes
// the zoo one checkpoint at a time (io/rows_writer.h), then the rest of it here.
void finish_zoo(RowsWriter& rows, Zoo zoo, const std::string& path);
Zoo load_zoo(const std::string& path);

void save_base(const std::string& path, const Classifier& model);
// Builds the classifier of `spec` and loads base.pt into it, checking every tensor.
Classifier load_base(const std::string& path, const ClassifierSpec& spec,
                     const torch::Device& device = torch::kCPU);

// The classifier `opts` names, sized for the dataset.
ClassifierSpec classifier_spec(const ModelOptions& opts, const DataSplits& data);

}  // namespace pdiff
