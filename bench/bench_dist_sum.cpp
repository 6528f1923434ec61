// The communication of one data-parallel training step: the single all-reduce (dist_sum) of the
// generator's gradients and loss that every step makes, timed on a job of several processes
// (launch it as any pdiff job: bench/dist_comm.sh starts 2 ranks on this machine). Sizes are
// numbers of float32 weights; by default those of the benchmark task's autoencoder (D = 768:
// 209 505 weights) and of the whole ResNet-18's token autoencoder (D = 11.2 M: 11 278 600).
//   RANK=.. WORLD_SIZE=.. MASTER_ADDR=.. MASTER_PORT=.. build/bench_dist_sum [WEIGHTS ...]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/progress.h"
#include "core/runtime.h"
#include "dist/group.h"
#include "dist/launch.h"

int main(int argc, char** argv) {
  using namespace pdiff;
  set_cpu_threads(1);
  std::vector<int64_t> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoll(argv[i]));
  if (sizes.empty()) sizes = {209505, 11278600};
  const Launch launch = launch_from_env();
  if (!launch.several()) {
    std::fprintf(stderr, "bench_dist_sum: run it as a job of several processes (bench/dist_comm.sh)\n");
    return 2;
  }
  join_group(launch, DistOptions{});
  for (const int64_t n : sizes) {
    // A fixed count on every rank (a collective each), more calls for small buffers.
    const int calls = n < 1000000 ? 50 : 5;
    std::vector<torch::Tensor> grads{torch::ones({n}), torch::ones({1})};
    dist_sum(grads, "warm-up");
    dist_barrier("before timing");
    Stopwatch w;
    for (int i = 0; i < calls; ++i) dist_sum(grads, "timed all-reduce");
    const double s = w.seconds() / calls;
    if (launch.rank == 0)
      std::printf("%10lld weights (%7.1f MB): %8.2f ms per step's all-reduce over %d ranks (%.2f GB/s of gradients)\n",
                  (long long)n, n * 4 / 1e6, s * 1e3, launch.world, n * 4 / s / 1e9);
  }
  dist_barrier("finishing");
  return 0;
}
