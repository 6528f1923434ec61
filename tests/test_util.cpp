#include "test_util.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace pdiff::test {

std::string temp_dir(const std::string& tag) {
  static std::atomic<int> counter{0};
  std::string path = "/tmp/pdiff_test_" + tag + "_" + std::to_string(getpid()) + "_" +
                     std::to_string(counter++);
  std::system(("rm -rf '" + path + "' && mkdir -p '" + path + "'").c_str());
  return path;
}

int run_command(const std::string& cmd, std::string* output) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  std::array<char, 4096> buf;
  std::string out;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = pclose(p);
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string pdiff_binary() { return PDIFF_BINARY; }
std::string source_dir() { return PDIFF_SOURCE_DIR; }

double max_relative_difference(const torch::Tensor& a, const torch::Tensor& b) {
  double scale = b.abs().max().item<double>();
  double diff = (a - b).abs().max().item<double>();
  return diff / std::max(scale, 1e-12);
}

}  // namespace pdiff::test
