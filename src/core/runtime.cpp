#include "core/runtime.h"

#include <torch/torch.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include "core/error.h"

namespace pdiff {

void init_runtime(int argc, char** argv) {
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
