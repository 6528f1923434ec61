// What every stage of one run shares. Each stage takes this and its own options struct, so its
// signature says what it depends on; run/stage_options.h builds both from the config, the only
// place below the command line that reads it. From C++ the library needs no config
// (docs/design.md has an example).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "core/precision.h"

namespace pdiff {

struct RunContext {
  std::string dir = "runs/fmnist-convnet4";  // the run directory: every stage's inputs and outputs
  int64_t seed = 0;                          // base training, the zoo, the generators' initialisation
  std::string config_yaml;                   // the resolved config, recorded with every output
  torch::Device device = torch::kCPU;        // where tensors live
  int threads = 1;                           // torch's intra-op threads (applied by whoever built it)
  Precision precision = Precision::Fp32;     // of training; evaluation runs in fp32
};

// The device a module's parameters live on (the CPU for a module without any).
inline torch::Device device_of(const torch::nn::Module& module) {
  const auto params = module.parameters();
  return params.empty() ? torch::Device(torch::kCPU) : params.front().device();
}

}  // namespace pdiff
