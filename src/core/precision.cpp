#include "core/precision.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include "core/error.h"

// LibTorch 2.4 replaced the per-device autocast functions by ones that take the device type.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define PDIFF_AUTOCAST_BY_DEVICE_TYPE 1
#endif

namespace pdiff {

namespace {

bool autocast_enabled(at::DeviceType type) {
#ifdef PDIFF_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::is_autocast_enabled(type);
#else
  return type == at::kCPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
#endif
}

void set_autocast(at::DeviceType type, bool enabled) {
#ifdef PDIFF_AUTOCAST_BY_DEVICE_TYPE
  at::autocast::set_autocast_dtype(type, at::kBFloat16);
  at::autocast::set_autocast_enabled(type, enabled);
#else
  if (type == at::kCPU) {
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(enabled);
  } else {
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(enabled);
  }
#endif
}

}  // namespace

Precision parse_precision(const std::string& word, const std::string& origin) {
  if (word == "fp32") return Precision::Fp32;
  if (word == "tf32") return Precision::Tf32;
  if (word == "bf16") return Precision::Bf16;
  throw Error(origin + " = '" + word + "': use fp32, tf32 or bf16");
}

std::string precision_name(Precision p) {
  switch (p) {
    case Precision::Tf32: return "tf32";
    case Precision::Bf16: return "bf16";
    default: return "fp32";
  }
}

void apply_precision(Precision p) {
  at::globalContext().setAllowTF32CuBLAS(p == Precision::Tf32);
  at::globalContext().setAllowTF32CuDNN(p == Precision::Tf32);
}

TrainingPrecision::TrainingPrecision(Precision p, const torch::Device& device) {
  if (p != Precision::Bf16) return;
  type_ = device.type();
  was_enabled_ = autocast_enabled(type_);
  set_autocast(type_, true);
  enabled_ = true;
}

TrainingPrecision::~TrainingPrecision() {
  if (!enabled_) return;
  set_autocast(type_, was_enabled_);
  if (!was_enabled_) at::autocast::clear_cache();  // casts of the weights are kept only within the scope
}

bool cpu_autocast_enabled() { return autocast_enabled(at::kCPU); }

}  // namespace pdiff
