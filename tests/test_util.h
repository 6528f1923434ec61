// Helpers shared by the tests.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/error.h"
#include "data/dataset.h"
#include "kernels/dispatch.h"

namespace pdiff::test {

// A fresh empty directory under /tmp, unique per call.
std::string temp_dir(const std::string& tag);
// Runs a shell command, returns its exit code; stdout+stderr go to *output if given.
int run_command(const std::string& cmd, std::string* output = nullptr);
// `run_dir=DIR` and the settings of a tiny but real run: 1000 training and 500 test images of
// Fashion-MNIST, K = 20, small generative models, one thread.
std::string tiny_pipeline(const std::string& dir);
// Runs `pdiff ARGS` (ARGS starting with the command); a non-zero exit is a test failure that
// shows the end of the output. Returns the output.
std::string pdiff_ok(const std::string& args);
// The last `n` characters of a command's output: enough for a failure message.
std::string tail(const std::string& s, size_t n = 4000);
// The shell command that runs tests/python/SCRIPT ARGS under Debian's Python PyTorch (ARGS
// quoted by the caller where needed).
std::string python_script_command(const std::string& script, const std::string& args = "");
// The same for tests/python/own_data.py.
std::string own_data_command(const std::string& args);
// The Python interpreters the interop checks run under: Debian's (PyTorch 1.13) and, when the
// variable PDIFF_TORCH2_PYTHON names one (scripts/test.sh sets it where a PyPI PyTorch 2.x
// venv exists), a PyTorch 2.x one.
std::vector<std::string> python_interpreters();
// Starts `pdiff COMMAND ARGS...` as a child process, stdout and stderr to `log`; returns its
// pid (-1 if the log cannot be opened). For tests that kill or race a running pdiff.
int spawn_pdiff(const std::string& command, const std::vector<std::string>& args, const std::string& log);
// Path of the pdiff binary and the source tree (set by CMake).
std::string pdiff_binary();
std::string source_dir();

// Largest |a - b| divided by the largest |b|. Results that differ only in floating-point
// summation order (another batch size picks another BLAS or oneDNN kernel, and which one
// depends on the CPU) agree to ~1e-6 on this scale; a real dependence shows as O(1).
double max_relative_difference(const torch::Tensor& a, const torch::Tensor& b);
// Tolerance for max_relative_difference in "same math, other summation order" checks.
constexpr double kSummationOrderTolerance = 1e-4;

// `n` random Fashion-MNIST-shaped training images (1x28x28, 10 classes; the test split the same),
// from torch's global generator: batches of n are then the whole set, in another order each time.
pdiff::DataSplits random_fashion_images(int64_t n = 64);

// Writes a small dataset in its real on-disk format into `dir` (created if missing) and returns
// the folder to use as data.root. Images are class-dependent patterns plus noise, so a
// classifier can learn them (deterministic from `seed`): each class has its own level in
// every channel and its own random texture; every image also brightens from top to bottom
// (a marker of orientation, unchanged by horizontal flips). Labels cycle through the classes.
std::string write_tiny_cifar10(const std::string& dir, int64_t n_train, int64_t n_test, uint64_t seed = 0);   // data_batch_1..5.bin + test_batch.bin (split n_train over the 5 files)
std::string write_tiny_cifar100(const std::string& dir, int64_t n_train, int64_t n_test, uint64_t seed = 0);  // train.bin + test.bin, 2 label bytes (coarse, fine), fine labels 0..99
std::string write_tiny_stl10(const std::string& dir, int64_t n_train, int64_t n_test, uint64_t seed = 0);     // train_X.bin, train_y.bin, test_X.bin, test_y.bin (column-major channels, labels 1..10)
std::string write_tiny_mnist(const std::string& dir, int64_t n_train, int64_t n_test, uint64_t seed = 0);     // raw IDX files train-images-idx3-ubyte etc.

// Sets an environment variable for one scope (nullptr: unsets it) and puts the old value back
// (scripts/test.sh exports PDIFF_THREADS to the whole suite).
// The kernel choice (kernels/dispatch.h) for one scope: KernelChoice::Generic forces LibTorch's
// ops on the CPU, the path a GPU takes.
class ScopedKernels {
 public:
  explicit ScopedKernels(KernelChoice c) : old_(kernel_choice()) { set_kernel_choice(c); }
  ~ScopedKernels() { set_kernel_choice(old_); }

 private:
  KernelChoice old_;
};

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    value ? setenv(name, value, 1) : unsetenv(name);
  }
  ~ScopedEnv() { old_.empty() ? unsetenv(name_) : setenv(name_, old_.c_str(), 1); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::string old_;
};

// The message of the pdiff::Error that fn throws, or a note that it threw none.
template <typename Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no pdiff::Error thrown>";
}

}  // namespace pdiff::test

#define EXPECT_CONTAINS(hay, needle) \
  EXPECT_NE(std::string(hay).find(needle), std::string::npos) << "message: " << (hay) << "\nmissing: " << (needle)
