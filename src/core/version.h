// What this pdiff is and what it was built with: `pdiff --version`.
#pragma once
#include <string>

namespace pdiff {

// pdiff's own version (CMake's project version).
std::string pdiff_version();

// A few lines, each "key: value": pdiff's version; the LibTorch it was built with (TORCH_VERSION);
// whether that LibTorch has CUDA (its CUDA runtime version) and how many devices it sees now;
// cuDNN (built with, usable now); the threads torch and OpenMP use. Needs no GPU and no CUDA
// headers: it compiles against Debian's LibTorch 1.13 (CPU) and PyPI's 2.x (CUDA) alike.
std::string version_report();

}  // namespace pdiff
