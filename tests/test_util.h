// Helpers shared by the tests.
#pragma once
#include <string>

namespace pdiff::test {

// A fresh empty directory under /tmp, unique per call.
std::string temp_dir(const std::string& tag);
// Runs a shell command, returns its exit code; stdout+stderr go to *output if given.
int run_command(const std::string& cmd, std::string* output = nullptr);
// Path of the pdiff binary and the source tree (set by CMake).
std::string pdiff_binary();
std::string source_dir();

}  // namespace pdiff::test
