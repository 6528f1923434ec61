// GoogleTest entry point that applies pdiff's runtime settings first.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>

#include "core/runtime.h"

int main(int argc, char** argv) {
  pdiff::init_runtime(argc, argv);
  testing::InitGoogleTest(&argc, argv);
  // The in-process tests use the cores the suite gives each test (scripts/test.sh), as every
  // pdiff they start does; tests that need another count set it themselves.
  if (const char* t = std::getenv("PDIFF_THREADS"); t != nullptr && std::atoi(t) > 0) pdiff::set_cpu_threads(std::atoi(t));
  torch::manual_seed(0);  // every test process starts from the same random state
  return RUN_ALL_TESTS();
}
