// The arithmetic of training (`precision`): fp32, tf32 (CUDA matrix products and convolutions
// in TensorFloat-32) or bf16 (autocast: matrix products and convolutions in bfloat16, the rest
// in fp32). Evaluation always runs in fp32: accuracies stay comparable across runs.
#pragma once
#include <torch/torch.h>

#include <string>

namespace pdiff {

enum class Precision { Fp32, Tf32, Bf16 };

// "fp32", "tf32" or "bf16"; anything else is an error naming `origin` and the value.
Precision parse_precision(const std::string& word, const std::string& origin);
std::string precision_name(Precision p);

// Process-wide: whether CUDA's matrix products and cuDNN may use TF32 (tf32 only).
void apply_precision(Precision p);

// For the scope of one training step's forward pass: autocast to bfloat16 on `device` under
// bf16, nothing otherwise. Autocast is thread-local: the scope covers the calling thread.
class TrainingPrecision {
 public:
  TrainingPrecision(Precision p, const torch::Device& device);
  ~TrainingPrecision();
  TrainingPrecision(const TrainingPrecision&) = delete;
  TrainingPrecision& operator=(const TrainingPrecision&) = delete;

 private:
  bool enabled_ = false;
  at::DeviceType type_ = at::kCPU;
  bool was_enabled_ = false;
};

// Whether autocast is on in this thread for the CPU (split-batch workers, on other threads,
// would compute in fp32: they are not used then).
bool cpu_autocast_enabled();

}  // namespace pdiff
