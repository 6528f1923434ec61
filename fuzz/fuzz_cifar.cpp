// Fuzzes the binary image readers: CIFAR-10, CIFAR-100 and STL-10. The first byte picks the
// format; for STL-10 the second byte says where the rest splits into the X and y files.
#include "data/dataset.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pdiff::fuzz::init_once();
  if (size < 2) return 0;
  const int format = data[0] % 3;
  data += 1;
  size -= 1;
  if (format < 2) {
    std::string path = pdiff::fuzz::write_scratch("cifar", data, size);
    pdiff::fuzz::accepts([&] {
      auto [images, labels] = pdiff::read_cifar_bin(path, format + 1);
      const int64_t classes = format == 0 ? 10 : 100;
      if (images.size(0) != labels.size(0) || labels.max().item<int64_t>() >= classes) __builtin_trap();
    });
    std::remove(path.c_str());
  } else {
    // The labels file is the last (data[0] % 8) + 1 bytes... or fewer when the input is short.
    size_t label_bytes = std::min<size_t>(size - 1, static_cast<size_t>(data[0] % 8) + 1);
    std::string x = pdiff::fuzz::write_scratch("stl_x", data + 1, size - 1 - label_bytes);
    std::string y = pdiff::fuzz::write_scratch("stl_y", data + size - label_bytes, label_bytes);
    pdiff::fuzz::accepts([&] {
      auto [images, labels] = pdiff::read_stl10_bin(x, y);
      if (images.size(0) != labels.size(0) || labels.min().item<int64_t>() < 0 ||
          labels.max().item<int64_t>() > 9)
        __builtin_trap();
    });
    std::remove(x.c_str());
    std::remove(y.c_str());
  }
  return 0;
}
