// STL-10 binary-version reader: X files of 3x96x96 uint8 images, each channel stored
// column-major (as MATLAB writes it); y files of one uint8 label 1..10 per image.
#include "core/error.h"
#include "io/file_io.h"
#include "data/dataset.h"

namespace pdiff {

std::pair<torch::Tensor, torch::Tensor> read_stl10_bin(const std::string& images_path,
                                                       const std::string& labels_path) {
  const int64_t image_bytes = 3 * 96 * 96;
  std::string x = read_text_file(images_path);
  const int64_t size = static_cast<int64_t>(x.size());
  check(size > 0 && size % image_bytes == 0,
        images_path + ": size " + std::to_string(size) + " bytes is not a whole number of " +
            std::to_string(image_bytes) + "-byte STL-10 images (3x96x96); is it the binary version, and complete?");
  const int64_t n = size / image_bytes;
  // Stored (N, C, W, H): transposing the last two axes gives row-major (N, C, H, W).
  auto images = torch::from_blob(x.data(), {n, 3, 96, 96}, torch::kUInt8).transpose(2, 3).contiguous();

  std::string y = read_text_file(labels_path);
  check(static_cast<int64_t>(y.size()) == n,
        labels_path + ": " + std::to_string(y.size()) + " labels but " + images_path + " has " +
            std::to_string(n) + " images; the X and y files must be of the same split and complete");
  auto labels = torch::empty({n}, torch::kInt64);
  auto* lab = labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t v = static_cast<uint8_t>(y[i]);
    check(v >= 1 && v <= 10, labels_path + ": label " + std::to_string(i) + " is " + std::to_string(v) +
                                 ", outside 1..10; is it an STL-10 label file, and not corrupt?");
    lab[i] = v - 1;
  }
  return {images, labels};
}

}  // namespace pdiff
