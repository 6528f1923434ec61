// Image classification datasets held in memory as normalised float tensors.
// Fashion-MNIST and MNIST from IDX files (gzip or raw), CIFAR-10/100 from the binary versions.
#pragma once
#include <torch/torch.h>

#include <string>

namespace pdiff {

struct Dataset {
  torch::Tensor images;  // (N, C, H, W) float32, normalised with the dataset's mean/std
  torch::Tensor labels;  // (N) int64
  int64_t size() const { return labels.size(0); }
  Dataset slice(int64_t begin, int64_t end) const;
};

struct DataSplits {
  std::string name;      // "fashion-mnist", "mnist", "cifar10", "cifar100"
  Dataset train, test;
  int64_t num_classes = 10;
  int64_t channels = 1;
  int64_t image_size = 28;
  int64_t crop_padding = 0;  // random-crop padding used by augment() (4 for CIFAR)
};

// Loads a dataset by name from `root` ("" = the Debian package folder for fashion-mnist).
// `train_limit` / `test_limit` > 0 keep only the first images. Throws pdiff::Error naming the
// file and what is wrong for a missing, truncated or corrupt file.
DataSplits load_dataset(const std::string& name, const std::string& root,
                        int64_t train_limit = 0, int64_t test_limit = 0);

// Readers of the raw formats (exposed for tests). Pixel values are returned as uint8.
torch::Tensor read_idx(const std::string& path);  // any IDX file of unsigned bytes
// CIFAR binary: returns (images uint8 (N,3,32,32), labels int64 (N)); label_bytes is 1 for
// CIFAR-10 and 2 for CIFAR-100 (coarse, fine: the fine label is used).
std::pair<torch::Tensor, torch::Tensor> read_cifar_bin(const std::string& path, int label_bytes);

// Training augmentation of a batch: random horizontal flip, and random crop after zero
// padding by `crop_padding` pixels when > 0. Uses only `gen` for randomness.
torch::Tensor augment(const torch::Tensor& images, int64_t crop_padding, torch::Generator& gen);

}  // namespace pdiff
