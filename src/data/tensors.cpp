// data.name=tensors: a dataset saved from Python with torch.save({"train_x": ..., "train_y": ...,
// "test_x": ..., "test_y": ...}, PATH). Inputs float or uint8 of shape [N, F], [N, H, W] or
// [N, C, H, W]; labels int64 [N]. Every check names the file and the key.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "io/file_io.h"
#include "data/dataset.h"

namespace pdiff {

namespace {

std::string shape_of(const torch::Tensor& t) { return c10::str(t.sizes()); }

// The inputs as float32 [N, C, H, W]: uint8 is scaled to [0, 1]; [N, F] becomes [N, F, 1, 1]
// (features as channels, so the MLP sees F inputs and per-channel statistics are per feature);
// [N, H, W] becomes [N, 1, H, W].
torch::Tensor read_inputs(const DictFile& f, const std::string& key) {
  const std::string where = f.path() + ": key '" + key + "'";
  check(f.has(key), f.path() + ": missing key '" + key + "'; data.file must hold a dict with train_x, train_y, "
                    "test_x and test_y (torch.save({'train_x': ..., ...}, PATH))");
  torch::Tensor x = f.tensor(key);
  check(x.scalar_type() == torch::kUInt8 || x.is_floating_point(),
        where + " has dtype " + std::string(c10::toString(x.scalar_type())) + "; inputs must be float or uint8");
  check(x.dim() >= 2 && x.dim() <= 4, where + " has shape " + shape_of(x) +
                                          "; inputs must be [N, F], [N, H, W] or [N, C, H, W]");
  check(x.size(0) > 0 && x.numel() > 0, where + " is empty (shape " + shape_of(x) + ")");
  if (x.dim() == 4)
    check(x.size(2) == x.size(3), where + " has shape " + shape_of(x) +
                                      ": images must be square ([N, C, S, S]); flatten to [N, F] for the MLP");
  if (x.dim() == 3)
    check(x.size(1) == x.size(2), where + " has shape " + shape_of(x) +
                                      ": images must be square ([N, S, S]); flatten to [N, F] for the MLP");
  torch::Tensor out = x.scalar_type() == torch::kUInt8 ? x.to(torch::kFloat32).div_(255.0) : x.to(torch::kFloat32);
  check(out.isfinite().all().item<bool>(), where + " holds a non-finite value (NaN or infinity)");
  if (x.dim() == 2) out = out.view({out.size(0), out.size(1), 1, 1});
  if (x.dim() == 3) out = out.unsqueeze(1);
  return out.contiguous();
}

torch::Tensor read_labels(const DictFile& f, const std::string& key, int64_t n, const std::string& inputs_key) {
  const std::string where = f.path() + ": key '" + key + "'";
  check(f.has(key), f.path() + ": missing key '" + key + "'; data.file must hold a dict with train_x, train_y, "
                    "test_x and test_y (torch.save({'train_x': ..., ...}, PATH))");
  torch::Tensor y = f.tensor(key);
  check(y.scalar_type() == torch::kInt64,
        where + " has dtype " + std::string(c10::toString(y.scalar_type())) +
            "; labels must be int64 (torch.long: y.long() in Python)");
  check(y.dim() == 1, where + " has shape " + shape_of(y) + "; labels must be [N]");
  check(y.size(0) == n, where + " has " + std::to_string(y.size(0)) + " labels but '" + inputs_key + "' has " +
                            std::to_string(n) + " inputs");
  const int64_t lo = y.min().item<int64_t>();
  check(lo >= 0, where + " holds the label " + std::to_string(lo) + "; labels must be 0 .. classes - 1");
  return y.contiguous();
}

}  // namespace

DataSplits load_tensor_dataset(const std::string& path, const std::string& normalize, int64_t num_classes,
                               int64_t train_limit, int64_t test_limit, const std::string& augment) {
  check(!path.empty(), "data.file: set it to the file of data.name=tensors (a dict saved with torch.save)");
  check(normalize == "auto" || normalize == "none" || normalize == "standard",
        "data.normalize: unknown value '" + normalize + "'; use auto, none or standard");
  AugmentPolicy policy = resolve_augment("tensors", augment);
  DictFile f = DictFile::load_any(path);
  DataSplits s;
  s.name = "tensors";
  torch::Tensor train_x = read_inputs(f, "train_x"), test_x = read_inputs(f, "test_x");
  check(train_x.sizes().slice(1) == test_x.sizes().slice(1),
        path + ": 'train_x' has shape " + shape_of(train_x) + " but 'test_x' has " + shape_of(test_x) +
            " (after adding the channel dimension); the two splits need the same input shape");
  torch::Tensor train_y = read_labels(f, "train_y", train_x.size(0), "train_x");
  torch::Tensor test_y = read_labels(f, "test_y", test_x.size(0), "test_x");
  // uint8 is scaled by 1/255 and floats are used as stored: splits of both kinds would differ in scale.
  const bool train_u8 = f.has("train_x") && f.tensor("train_x").scalar_type() == torch::kUInt8;
  const bool test_u8 = f.has("test_x") && f.tensor("test_x").scalar_type() == torch::kUInt8;
  check(train_u8 == test_u8, path + ": 'train_x' is " + (train_u8 ? "uint8" : "float") + " but 'test_x' is " +
                                 (test_u8 ? "uint8" : "float") +
                                 "; pdiff scales uint8 inputs to [0, 1] and uses floats as stored, so the splits "
                                 "would differ in scale: save both in one dtype");
  {
    const double train_max = train_x.abs().max().item<double>(), test_max = test_x.abs().max().item<double>();
    if (std::max(train_max, test_max) > 10.0 * std::max(std::min(train_max, test_max), 1e-12))
      std::fprintf(stderr, "data: warning: %s: the largest |value| is %.4g in 'train_x' but %.4g in 'test_x'; "
                           "were both splits scaled the same way? (used as stored)\n",
                   path.c_str(), train_max, test_max);
  }
  const int64_t top = std::max(train_y.max().item<int64_t>(), test_y.max().item<int64_t>());
  if (num_classes > 0) {
    for (const auto& [key, y] : {std::pair<std::string, torch::Tensor>{"train_y", train_y}, {"test_y", test_y}}) {
      const int64_t m = y.max().item<int64_t>();
      check(m < num_classes, path + ": key '" + key + "' holds the label " + std::to_string(m) +
                                 ", out of range for data.num_classes = " + std::to_string(num_classes));
    }
    s.num_classes = num_classes;
  } else {
    s.num_classes = top + 1;
  }
  check(s.num_classes >= 2, path + ": the labels hold a single class; a classifier needs at least two");
  // Predictions are stored as uint8 (zoo.pt, generated.pt).
  check(s.num_classes <= 256, path + ": " + std::to_string(s.num_classes) +
                                  " classes; pdiff stores predictions as bytes and supports at most 256");

  if (normalize == "standard") {
    // Per-channel (per-feature for [N, F]) mean and std of the whole training split.
    auto [var, mean] = torch::var_mean(train_x, {0, 2, 3}, /*unbiased=*/false, /*keepdim=*/true);
    auto std = var.sqrt();
    std = torch::where(std.lt(1e-6), torch::ones_like(std), std);  // a constant channel stays as it is
    train_x.sub_(mean).div_(std);
    test_x.sub_(mean).div_(std);
  }
  s.normalisation = std::string(train_u8 ? "uint8 scaled to [0, 1]" : "floats as stored") +
                    (normalize == "standard" ? ", then per-channel mean and std of the training split (data.normalize=standard)"
                                             : " (data.normalize=standard to standardise)");
  s.train = {train_x, train_y};
  s.test = {test_x, test_y};
  s.channels = train_x.size(1);
  s.image_size = train_x.size(2);
  const bool images = s.image_size > 1;
  check(images || (!policy.flip && policy.crop_padding == 0),
        "data.augment: '" + augment + "' needs images, but " + path + " holds feature vectors (train_x " +
            shape_of(f.tensor("train_x")) + "); use data.augment=none");
  s.flip = policy.flip;
  // resolve_augment marks a crop for tensors with padding 1; the real one is an eighth of the size.
  s.crop_padding = policy.crop_padding > 0 ? std::max<int64_t>(1, s.image_size / 8) : 0;
  s.augment_description = AugmentPolicy{s.flip, s.crop_padding}.description();
  if (train_limit > 0 && train_limit < s.train.size()) s.train = s.train.slice(0, train_limit);
  if (test_limit > 0 && test_limit < s.test.size()) s.test = s.test.slice(0, test_limit);
  return s;
}

}  // namespace pdiff
