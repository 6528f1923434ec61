// The job's process group: PyTorch's own distributed engine (c10d), as torch.distributed uses
// it. Rank 0 hosts a TCPStore (the rendezvous: MASTER_ADDR:MASTER_PORT), every rank joins a
// Gloo process group over it. One process (WORLD_SIZE unset or 1) joins nothing and every call
// here is a no-op, so the stages have one path for any world size.
//
// What the stages use: which rank they are, a barrier, and gathering rows that each rank
// computed for its share of an index range, in index order. Every call takes a `what` that
// names the step in the error a rank gets when another rank died or hangs past dist.timeout.
#pragma once
#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dist/launch.h"

namespace pdiff {

struct DistOptions {
  std::string backend = "auto";           // auto (Gloo; NCCL is for CUDA builds), gloo
  std::chrono::seconds timeout{300};      // a collective waiting longer fails with which step
};

// Joins the job's process group once per process (a second call is a no-op). With one process
// it only records the launch.
void join_group(const Launch& launch, const DistOptions& opts);

int dist_rank();
int dist_world();  // 1 when alone, or inside on_main_rank
inline bool is_main_rank() { return dist_rank() == 0; }
const Launch& dist_launch();

// Waits for every rank.
void dist_barrier(const std::string& what);

// Every rank passes its text; throws the same Error on every rank when they are not all equal
// to rank 0's, naming the first line that differs and the ranks (`label` says what the text is).
void dist_check_same(const std::string& label, const std::string& text);

// Checks that every rank holds the same weights (parameters and buffers), as data-parallel
// training promises: a few sums per tensor, in hexadecimal, compared as dist_check_same does.
void dist_check_same_weights(const torch::nn::Module& module, const std::string& what);

// The share of [0, n) that `rank` of `world` owns: a contiguous block, the first n % world
// ranks one longer.
struct Share {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
};
Share share_of(int64_t n, int rank, int world);

// Every rank's rows (rank r passes counts[r] rows of the same trailing shape), concatenated in
// rank order, on every rank, on the CPU. One process returns `mine`.
torch::Tensor dist_gather_rows(const torch::Tensor& mine, const std::vector<int64_t>& counts, const std::string& what);

// Sums each tensor over the ranks, in place, in one collective (they are flattened into one
// buffer on their device). Every rank gets the same bits. One process: nothing to do.
void dist_sum(const std::vector<torch::Tensor>& tensors, const std::string& what);

// Rank 0's `rows` dealt out: rank r gets the next counts[r] rows (rank 0 passes them all, in
// rank order; the others pass an empty tensor of the same trailing shape and type). One
// process returns `rows`.
torch::Tensor dist_scatter_rows(const torch::Tensor& rows, const std::vector<int64_t>& counts, const std::string& what);

// Rank 0's value, on every rank (the others' arguments are ignored).
int64_t dist_broadcast_int(int64_t value, const std::string& what);
std::string dist_broadcast_text(const std::string& text, const std::string& what);

// Runs `fn` on rank 0 only; the other ranks wait for it (as long as it takes: a rank-0 stage is
// not a collective) and rethrow its error. A dead rank 0 ends their wait with an error. Inside
// `fn` rank 0 works as a process alone: dist_world() is 1 and the calls here do nothing.
void on_main_rank(const std::string& what, const std::function<void()>& fn);

}  // namespace pdiff
