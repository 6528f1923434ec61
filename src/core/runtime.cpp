#include "core/runtime.h"

#include <torch/torch.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include "core/error.h"

namespace pdiff {

void init_runtime(int argc, char** argv) {
  // Keep freed memory for reuse: glibc otherwise maps and unmaps every block over 128 KiB to
  // 32 MiB, and the per-model evaluation allocates ~0.5 GB a model in such blocks, so the
  // kernel re-zeroed pages all the time (measured: ~30 % less system time without that).
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  execv("/proc/self/exe", argv);  // returns only on failure: then run as we are
  (void)argc;
}

void apply_threads(const Config& cfg) {
  check(cfg.s("device") == "cpu",
        "device = " + cfg.s("device") + ": this version of pdiff runs on the CPU only; set device=cpu");
  int64_t n = cfg.i("threads");
  if (n <= 0) n = std::max(1u, std::thread::hardware_concurrency());
  torch::set_num_threads(static_cast<int>(n));
}

}  // namespace pdiff
