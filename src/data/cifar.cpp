// CIFAR-10 / CIFAR-100 binary-version reader: fixed-size records of label byte(s) + 3072 pixels.
#include <cstdio>

#include "core/error.h"
#include "io/file_io.h"
#include "data/dataset.h"

namespace pdiff {

std::pair<torch::Tensor, torch::Tensor> read_cifar_bin(const std::string& path, int label_bytes) {
  const int64_t pixels = 3 * 32 * 32, record = label_bytes + pixels;
  std::string bytes = read_text_file(path);
  const int64_t size = static_cast<int64_t>(bytes.size());
  check(size > 0 && size % record == 0,
        path + ": size " + std::to_string(size) + " bytes is not a whole number of " +
            std::to_string(record) + "-byte CIFAR-" + (label_bytes == 1 ? "10" : "100") +
            " records; is it the binary version, and complete?");
  const int64_t n = size / record;
  auto images = torch::empty({n, 3, 32, 32}, torch::kUInt8);
  auto labels = torch::empty({n}, torch::kInt64);
  const int64_t classes = label_bytes == 1 ? 10 : 100;
  auto* img = images.data_ptr<uint8_t>();
  auto* lab = labels.data_ptr<int64_t>();
  const auto* src = reinterpret_cast<const uint8_t*>(bytes.data());
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* r = src + i * record;
    lab[i] = r[label_bytes - 1];  // CIFAR-100: byte 0 coarse, byte 1 fine
    check(lab[i] < classes, path + ": record " + std::to_string(i) + " has label " +
                                std::to_string(lab[i]) + " >= " + std::to_string(classes) +
                                "; wrong dataset (data.name) or corrupt file");
    std::copy(r + label_bytes, r + record, img + i * pixels);
  }
  return {images, labels};
}

}  // namespace pdiff
