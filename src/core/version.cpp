#include "core/version.h"

#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <omp.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <cstdint>
#include <sstream>

#ifndef PDIFF_VERSION
#define PDIFF_VERSION "unknown"
#endif

namespace pdiff {
namespace {

// cuDNN's version number: major*1000 + minor*100 + patch up to 8.x, major*10000 + minor*100 +
// patch from 9.0 on.
std::string cudnn_version_string(long v) {
  long major = v >= 90000 ? v / 10000 : v / 1000;
  long minor = v >= 90000 ? (v % 10000) / 100 : (v % 1000) / 100;
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(v % 100);
}

}  // namespace

std::string pdiff_version() { return PDIFF_VERSION; }

std::string version_report() {
  std::ostringstream out;
  out << "pdiff " << pdiff_version() << "\n";
  out << "LibTorch: " << TORCH_VERSION << "\n";

  // Without libtorch_cuda the hooks are ATen's stubs, which throw when asked for a version.
  const at::CUDAHooksInterface& hooks = at::detail::getCUDAHooks();
  long cudart = -1;
  try {
    cudart = hooks.versionCUDART();
  } catch (const std::exception&) {
  }
  // device_count() is size_t in LibTorch 1.13 and a DeviceIndex (int8_t) in 2.x: printed as a number.
  const int64_t devices = static_cast<int64_t>(torch::cuda::device_count());
  if (cudart >= 0) {
    out << "CUDA: built with CUDA " << cudart / 1000 << "." << (cudart % 1000) / 10 << "; "
        << (torch::cuda::is_available() ? "available" : "not available") << ", " << devices
        << (devices == 1 ? " device" : " devices") << "\n";
  } else {
    out << "CUDA: not built with CUDA (CPU only)\n";
  }
  if (hooks.compiledWithCuDNN()) {
    long v = -1;
    try {
      v = hooks.versionCuDNN();
    } catch (const std::exception&) {
    }
    out << "cuDNN: built with " << (v >= 0 ? cudnn_version_string(v) : std::string("cuDNN")) << "; "
        << (torch::cuda::cudnn_is_available() ? "available" : "not available") << "\n";
  } else {
    out << "cuDNN: not built with cuDNN\n";
  }
  out << "threads: torch " << at::get_num_threads() << ", OpenMP " << omp_get_max_threads() << " (of "
      << omp_get_num_procs() << " cores)\n";
  return out.str();
}

}  // namespace pdiff
