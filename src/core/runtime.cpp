#include "core/runtime.h"

#include <torch/torch.h>
#include <dlfcn.h>
#include <malloc.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "core/error.h"

namespace pdiff {

void init_runtime(int argc, char** argv) {
  // Keep freed memory for reuse: glibc otherwise maps every large block afresh and unmaps it
  // when freed (any block over 32 MiB, whatever the threshold), so the kernel zeroes new pages
  // for every large activation of every step and every evaluated model. Serving all blocks
  // from the heap, and trimming it only past 1 GiB free at its top, removed 99 % of the page
  // faults of evaluating whole ConvNet-4s (25 M to 0.28 M; system time 66 s to 15 s).
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  execv("/proc/self/exe", argv);  // returns only on failure: then run as we are
  (void)argc;
}

void set_cpu_threads(int threads) {
  torch::set_num_threads(threads);
  // Looked up, not linked: another BLAS (or a LibTorch with MKL) has no such function.
  using SetThreads = void (*)(int);
  if (auto set_blas = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
    set_blas(threads);
}

namespace {
int rank_of_process = 0;
}  // namespace

int process_rank() { return rank_of_process; }
void set_process_rank(int rank) { rank_of_process = rank; }

double peak_resident_mb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
  return std::nan("");
}

}  // namespace pdiff
