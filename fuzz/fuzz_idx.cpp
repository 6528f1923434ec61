// Fuzzes the IDX reader (MNIST, Fashion-MNIST; raw or gzip-compressed).
#include "data/dataset.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pdiff::fuzz::init_once();
  std::string path = pdiff::fuzz::write_scratch("idx", data, size);
  pdiff::fuzz::accepts([&] {
    torch::Tensor t = pdiff::read_idx(path);
    // An accepted file is a uint8 tensor holding exactly the bytes its header promised.
    if (t.scalar_type() != torch::kUInt8 || t.dim() < 1 || t.dim() > 4) __builtin_trap();
  });
  std::remove(path.c_str());
  return 0;
}
