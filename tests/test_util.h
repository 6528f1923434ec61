// Helpers shared by the tests.
#pragma once
#include <string>

#include <torch/torch.h>

namespace pdiff::test {

// A fresh empty directory under /tmp, unique per call.
std::string temp_dir(const std::string& tag);
// Runs a shell command, returns its exit code; stdout+stderr go to *output if given.
int run_command(const std::string& cmd, std::string* output = nullptr);
// Path of the pdiff binary and the source tree (set by CMake).
std::string pdiff_binary();
std::string source_dir();

// Largest |a - b| divided by the largest |b|. Results that differ only in floating-point
// summation order (another batch size picks another BLAS or oneDNN kernel, and which one
// depends on the CPU) agree to ~1e-6 on this scale; a real dependence shows as O(1).
double max_relative_difference(const torch::Tensor& a, const torch::Tensor& b);
// Tolerance for max_relative_difference in "same math, other summation order" checks.
constexpr double kSummationOrderTolerance = 1e-4;

}  // namespace pdiff::test
