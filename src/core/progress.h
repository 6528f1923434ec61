// A one-line progress meter (count, rate, ETA, free text) for long loops, printed to stderr.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace pdiff {

class Progress {
 public:
  Progress(std::string label, int64_t total, std::string unit = "it");
  // Advances by n and redraws at most every 0.5 s (and always at the end).
  void tick(int64_t n = 1, const std::string& extra = "");
  // Prints the final line and a newline; called by the destructor if not called before.
  void finish(const std::string& extra = "");
  ~Progress();
  double elapsed_s() const;

 private:
  void draw(const std::string& extra, bool final);
  std::string label_, unit_;
  int64_t total_, done_ = 0;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// Wall-clock seconds since construction.
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace pdiff
