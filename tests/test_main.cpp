// GoogleTest entry point that applies pdiff's runtime settings first.
#include <gtest/gtest.h>

#include "core/runtime.h"

int main(int argc, char** argv) {
  pdiff::init_runtime(argc, argv);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
