// Timing helpers shared by the benchmark programs.
#pragma once
#include <torch/torch.h>

#include "core/progress.h"

namespace pdiff::bench {

// Seconds per call of fn, after one warm-up call, over at least `min_s` seconds.
template <class F>
double time_per_call(F fn, double min_s = 2.0) {
  fn();
  Stopwatch w;
  int64_t n = 0;
  do fn(), ++n;
  while (w.seconds() < min_s);
  return w.seconds() / n;
}

// GFLOP/s of a 2048^2 fp32 matrix product: the compute ceiling figures are compared with.
inline double gemm_ceiling() {
  auto a = torch::randn({2048, 2048}), b = torch::randn({2048, 2048});
  double t = time_per_call([&] { torch::mm(a, b); });
  return 2.0 * 2048 * 2048 * 2048 / t / 1e9;
}

}  // namespace pdiff::bench
