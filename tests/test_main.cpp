// GoogleTest entry point that applies pdiff's runtime settings first.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/runtime.h"

int main(int argc, char** argv) {
  pdiff::init_runtime(argc, argv);
  testing::InitGoogleTest(&argc, argv);
  torch::manual_seed(0);  // every test process starts from the same random state
  return RUN_ALL_TESTS();
}
