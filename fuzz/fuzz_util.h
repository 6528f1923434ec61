// What every fuzz target shares: the readers take paths, so an input becomes a scratch file;
// and the one acceptable answer to bad input is pdiff::Error. Any other exception, crash,
// sanitizer report, hang or leak is a finding (libFuzzer stops and saves the input).
#pragma once
#include <torch/torch.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "core/error.h"

namespace pdiff::fuzz {

// One scratch file per process and name: libFuzzer runs one input at a time in a process.
inline std::string write_scratch(const std::string& name, const uint8_t* data, size_t size) {
  std::string path = "/tmp/pdiff-fuzz-" + std::to_string(getpid()) + "-" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) __builtin_trap();  // the harness itself is broken: say so loudly
  if (size > 0 && std::fwrite(data, 1, size, f) != size) __builtin_trap();
  std::fclose(f);
  return path;
}

// Runs f; pdiff::Error is the expected answer to bad input and is swallowed; everything
// else propagates to libFuzzer as a crash.
template <class F>
bool accepts(F&& f) {
  try {
    f();
    return true;
  } catch (const Error&) {
    return false;
  }
}

// One thread: findings must be reproducible, and the fuzzer runs many inputs per second.
inline void init_once() {
  static bool done = [] {
    torch::set_num_threads(1);
    return true;
  }();
  (void)done;
}

}  // namespace pdiff::fuzz
