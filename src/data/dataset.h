// Image classification datasets held in memory as normalised float tensors.
// Fashion-MNIST and MNIST from IDX files (gzip or raw), CIFAR-10/100 and STL-10 from the
// binary versions.
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

// Training augmentation resolved from data.augment for one dataset.
struct AugmentPolicy {
  bool flip = false;         // random horizontal flip
  int64_t crop_padding = 0;  // random crop after zero padding by this many pixels (0 = none)
  std::string description() const;  // "none", "flip", "crop(pad 4)", "flip+crop(pad 4)"
};

// Resolves a data.augment value for dataset `name`: auto (flip for fashion-mnist, none for
// mnist: a flipped digit is another image, none for tensors, flip+crop for cifar10/cifar100 (pad 4) and stl10
// (pad 12)), none, flip, crop, flip+crop; "true" = auto, "false" = none. The crop padding is
// an eighth of the image size (3, 4, 12). Throws pdiff::Error naming data.augment.
AugmentPolicy resolve_augment(const std::string& name, const std::string& setting);

struct DataSplits {
  std::string name;      // "fashion-mnist", "mnist", "cifar10", "cifar100", "stl10", "tensors"
  Dataset train, test;
  int64_t num_classes = 10;
  int64_t channels = 1;
  int64_t image_size = 28;
  // The resolved augmentation (applied by BatchSchedule).
  bool flip = false;
  int64_t crop_padding = 0;
  std::string augment_description = "none";
  std::string normalisation;  // what was done to the inputs, for the log
};

// The data.* keys: which dataset, where, how much of it and its augmentation.
struct DataOptions {
  std::string name = "fashion-mnist";  // or mnist, cifar10, cifar100, stl10, tensors
  std::string root;                    // folder of the files ("": the Debian package's, for Fashion-MNIST)
  std::string file;                    // data.name=tensors: the .pt file
  std::string normalize = "auto";      // data.name=tensors only
  int64_t num_classes = 0;             // data.name=tensors only (0: from the labels)
  int64_t train_limit = 0, test_limit = 0;  // first N images (0: all)
  std::string augment = "auto";
};
// The dataset of `opts`, refusing keys that do not apply to it; prints one line saying what
// was read and which augmentation data.augment resolved to.
DataSplits load_dataset(const DataOptions& opts);

// Loads a dataset by name from `root` ("" = the Debian package folder for fashion-mnist).
// `train_limit` / `test_limit` > 0 keep only the first images; `augment` is a data.augment
// value. Throws pdiff::Error naming the file and what is wrong for a missing, truncated or
// corrupt file.
DataSplits load_dataset(const std::string& name, const std::string& root, int64_t train_limit = 0,
                        int64_t test_limit = 0, const std::string& augment = "auto");

// data.name=tensors: a dict saved with Python's torch.save holding train_x, train_y, test_x,
// test_y. Inputs float or uint8 (scaled to [0, 1]) of shape [N, F] (held as [N, F, 1, 1]),
// [N, S, S] (one channel) or [N, C, S, S]; labels int64 [N] in 0 .. classes - 1.
// `normalize`: auto or none (as stored), standard (per-channel mean and std of the training
// split). `num_classes` 0 = the largest label + 1. Augmentation only where `augment` asks
// (auto = none; flip and crop need images; crop pads an eighth of the size). Throws
// pdiff::Error naming the file and key for a missing key, a wrong dtype or shape, splits of
// another length or shape, non-finite inputs or labels out of range.
DataSplits load_tensor_dataset(const std::string& path, const std::string& normalize, int64_t num_classes,
                               int64_t train_limit = 0, int64_t test_limit = 0, const std::string& augment = "auto");

// Readers of the raw formats (exposed for tests). Pixel values are returned as uint8.
// Any IDX file of unsigned bytes; with `limit` > 0, only its first `limit` items (along the
// first dimension): the read stops there, so a quick run on a few images does not decompress
// the whole file (the rest of it then goes unchecked). `total`: the items the header promises.
torch::Tensor read_idx(const std::string& path, int64_t limit = 0, int64_t* total = nullptr);
// CIFAR binary: returns (images uint8 (N,3,32,32), labels int64 (N)); label_bytes is 1 for
// CIFAR-10 and 2 for CIFAR-100 (coarse, fine: the fine label is used).
std::pair<torch::Tensor, torch::Tensor> read_cifar_bin(const std::string& path, int label_bytes);
// STL-10 binary: one split's X and y files; returns (images uint8 (N,3,96,96) row-major,
// labels int64 (N) in 0..9).
std::pair<torch::Tensor, torch::Tensor> read_stl10_bin(const std::string& images_path,
                                                       const std::string& labels_path);

// Training augmentation of a batch: random horizontal flip when `flip`, then random crop
// after zero padding by `crop_padding` pixels when > 0. Uses only `gen` for randomness (the
// flip draws come first, so flip-only batches do not depend on the crop).
torch::Tensor augment(const torch::Tensor& images, bool flip, int64_t crop_padding, torch::Generator& gen);

}  // namespace pdiff
