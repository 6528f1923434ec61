// The one exception type of the library. Messages say what failed, where, and what to do;
// the CLI prints them and exits non-zero.
#pragma once
#include <stdexcept>
#include <string>

namespace pdiff {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// An exception's message as a person should read it: LibTorch's errors without their backtrace.
std::string error_text(const std::exception& e);

// Throws Error(message) when cond is false.
inline void check(bool cond, const std::string& message) {
  if (!cond) throw Error(message);
}

}  // namespace pdiff
