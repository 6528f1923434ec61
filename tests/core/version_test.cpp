#include "core/version.h"

#include <gtest/gtest.h>
#include <torch/version.h>

#include <string>

namespace pdiff::version_test {
namespace {

TEST(Version, ReportNamesPdiffLibTorchCudaCudnnAndThreads) {
  const std::string report = version_report();
  EXPECT_EQ(report.rfind("pdiff " + pdiff_version() + "\n", 0), 0u) << report;
  EXPECT_NE(pdiff_version(), "unknown") << "PDIFF_VERSION not set by CMake";
  // The LibTorch this test was compiled against: Debian's 1.13 or a PyPI 2.x.
  EXPECT_NE(report.find(std::string("LibTorch: ") + TORCH_VERSION + "\n"), std::string::npos) << report;
  for (const char* key : {"\nCUDA: ", "\ncuDNN: ", "\nthreads: torch "})
    EXPECT_NE(report.find(key), std::string::npos) << key << "\n" << report;
  EXPECT_EQ(report.back(), '\n');
}

}  // namespace
}  // namespace pdiff::version_test
