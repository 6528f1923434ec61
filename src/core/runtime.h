// Process-wide settings every pdiff program applies first.
#pragma once

namespace pdiff {

// LibTorch's OpenMP threads spin while waiting; on a shared machine a spinning thread whose
// partner is descheduled makes small ops 10-25x slower (measured: bench_generative). OpenMP
// reads its settings when the library loads, so this re-executes the program once with
// OMP_WAIT_POLICY=PASSIVE unless the user chose a policy. It also makes malloc keep freed
// memory for reuse instead of mapping large blocks afresh (runtime.cpp). Call first thing in main().
void init_runtime(int argc, char** argv);

// The threads of every CPU kernel: LibTorch's OpenMP pool and OpenBLAS's own pool, which
// LibTorch leaves at one thread per core. OpenBLAS's idle threads poll (sched_yield) after every
// matrix product, so a run told to use one thread took a second core (measured: an eval of a
// whole ResNet-18 zoo, 26 s wall, 41 s CPU; 26 s with OpenBLAS at one thread).
void set_cpu_threads(int threads);

// This process's rank in a job of several processes (dist/group.h sets it when it joins; 0 for
// a process alone). Only rank 0 writes into the run directory and holds its lock.
int process_rank();
void set_process_rank(int rank);

// The process's peak resident memory so far in MB (VmHWM of /proc/self/status; NaN if absent):
// what `/usr/bin/time -v` reports as its maximum resident set size.
double peak_resident_mb();

}  // namespace pdiff
