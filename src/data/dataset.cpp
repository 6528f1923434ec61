#include "data/dataset.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <vector>

#include "core/error.h"
#include "io/file_io.h"

namespace pdiff {

namespace {

struct Normalisation {
  std::vector<double> mean, std;
};

// How normalise() maps a pixel, for the log: "x/255, then (x - 0.2860) / 0.3530".
std::string describe(const Normalisation& n, const std::string& source) {
  auto list = [](const std::vector<double>& v) {
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + c10::str(std::round(v[i] * 1e4) / 1e4);
    return v.size() == 1 ? out : "(" + out + ")";
  };
  return "x/255, then (x - " + list(n.mean) + ") / " + list(n.std) + " per channel (" + source + ")";
}

torch::Tensor normalise(const torch::Tensor& u8, const Normalisation& n) {
  auto x = u8.to(torch::kFloat32).div_(255.0);
  int64_t c = x.size(1);
  auto mean = torch::tensor(n.mean, torch::kFloat32).view({1, c, 1, 1});
  auto std = torch::tensor(n.std, torch::kFloat32).view({1, c, 1, 1});
  return x.sub_(mean).div_(std).contiguous();
}

std::string idx_file(const std::string& root, const std::string& stem) {
  for (const auto& name : {stem + ".gz", stem})
    if (file_exists(root + "/" + name)) return root + "/" + name;
  throw Error(root + ": neither " + stem + ".gz nor " + stem +
              " found; set data.root to the folder holding the IDX files");
}

// The first `limit` images and labels (0: all): data.train_limit / test_limit read no further.
Dataset load_idx_split(const std::string& root, const std::string& prefix, const Normalisation& n, int64_t limit) {
  std::string img_path = idx_file(root, prefix + "-images-idx3-ubyte");
  std::string lab_path = idx_file(root, prefix + "-labels-idx1-ubyte");
  int64_t image_count = 0, label_count = 0;
  auto images = read_idx(img_path, limit, &image_count);
  auto labels = read_idx(lab_path, limit, &label_count);
  check(images.dim() == 3, img_path + ": expected 3 dimensions (N, H, W), got " + std::to_string(images.dim()));
  check(labels.dim() == 1, lab_path + ": expected 1 dimension (N), got " + std::to_string(labels.dim()));
  check(image_count == label_count,
        img_path + " has " + std::to_string(image_count) + " images but " + lab_path + " has " +
            std::to_string(label_count) + " labels");
  check(labels.max().item<uint8_t>() < 10, lab_path + ": labels must be 0-9");
  return {normalise(images.unsqueeze(1), n), labels.to(torch::kInt64)};
}

Dataset load_cifar_split(const std::vector<std::string>& paths, int label_bytes, const Normalisation& n) {
  std::vector<torch::Tensor> imgs, labs;
  for (const auto& p : paths) {
    auto [i, l] = read_cifar_bin(p, label_bytes);
    imgs.push_back(i);
    labs.push_back(l);
  }
  return {normalise(torch::cat(imgs), n), torch::cat(labs)};
}

// Archives unpack into a subfolder; accept the root or that subfolder.
std::string archive_dir(const std::string& root, const std::string& sub, const std::string& probe,
                        const std::string& what) {
  if (file_exists(root + "/" + probe)) return root;
  if (file_exists(root + "/" + sub + "/" + probe)) return root + "/" + sub;
  throw Error(root + ": " + probe + " not found (nor under " + sub + "/); set data.root to the folder of the " +
              what + " binary version");
}

// Per-channel mean and (population) std of uint8 (N, C, H, W) images scaled to [0, 1], from
// byte histograms: exact, and no float copy of the split.
Normalisation channel_stats(const torch::Tensor& u8) {
  const int64_t n = u8.size(0), c = u8.size(1), plane = u8.size(2) * u8.size(3);
  const uint8_t* p = u8.contiguous().data_ptr<uint8_t>();
  std::vector<std::vector<int64_t>> hist(c, std::vector<int64_t>(256, 0));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch, p += plane)
      for (int64_t k = 0; k < plane; ++k) ++hist[ch][p[k]];
  Normalisation out;
  for (int64_t ch = 0; ch < c; ++ch) {
    double count = 0, sum = 0, sq = 0;
    for (int v = 0; v < 256; ++v) {
      const double h = static_cast<double>(hist[ch][v]), x = v / 255.0;
      count += h, sum += h * x, sq += h * x * x;
    }
    const double mean = sum / count, var = std::max(sq / count - mean * mean, 0.0);
    out.mean.push_back(mean);
    out.std.push_back(std::max(std::sqrt(var), 1e-6));  // a constant channel stays finite
  }
  return out;
}

torch::Tensor first(const torch::Tensor& t, int64_t n) { return n > 0 && n < t.size(0) ? t.slice(0, 0, n) : t; }

Dataset limit(const Dataset& d, int64_t n) { return n > 0 && n < d.size() ? d.slice(0, n) : d; }

}  // namespace

Dataset Dataset::slice(int64_t begin, int64_t end) const {
  return {images.slice(0, begin, end), labels.slice(0, begin, end)};
}

DataSplits load_dataset(const std::string& name, const std::string& root_in, int64_t train_limit,
                        int64_t test_limit, const std::string& augment) {
  // Resolved first: a bad data.augment (or data.name) is refused before any file is read.
  AugmentPolicy policy = resolve_augment(name, augment);
  DataSplits s;
  s.name = name;
  s.flip = policy.flip;
  s.crop_padding = policy.crop_padding;
  s.augment_description = policy.description();
  std::string root = root_in;
  check(name != "tensors", "internal: data.name=tensors is loaded by load_tensor_dataset");
  if (name == "fashion-mnist" || name == "mnist") {
    if (root.empty()) {
      check(name == "fashion-mnist", "data.root: MNIST is not packaged; set data.root to your MNIST folder");
      root = "/usr/share/datasets/fashion-mnist";
    }
    Normalisation n = name == "mnist" ? Normalisation{{0.1307}, {0.3081}} : Normalisation{{0.2860}, {0.3530}};
    s.normalisation = describe(n, "the dataset's usual fixed statistics");
    s.train = load_idx_split(root, "train", n, train_limit);
    s.test = load_idx_split(root, "t10k", n, test_limit);
    check(s.test.images.sizes().slice(2) == s.train.images.sizes().slice(2),
          root + ": training images are " + c10::str(s.train.images.sizes().slice(2)) + " but test images are " +
              c10::str(s.test.images.sizes().slice(2)) + "; the train and t10k files are from different datasets");
    s.channels = 1;
    s.image_size = s.train.images.size(2);
  } else if (name == "cifar10" || name == "cifar100") {
    check(!root.empty(), "data.root: set it to the folder of the CIFAR binary version");
    const bool c10 = name == "cifar10";
    Normalisation n = c10 ? Normalisation{{0.4914, 0.4822, 0.4465}, {0.2470, 0.2435, 0.2616}}
                          : Normalisation{{0.5071, 0.4865, 0.4409}, {0.2673, 0.2564, 0.2762}};
    s.normalisation = describe(n, "the dataset's usual fixed statistics");
    std::string dir = archive_dir(root, c10 ? "cifar-10-batches-bin" : "cifar-100-binary",
                                  c10 ? "test_batch.bin" : "test.bin", "CIFAR");
    std::vector<std::string> train_files;
    if (c10)
      for (int i = 1; i <= 5; ++i) train_files.push_back(dir + "/data_batch_" + std::to_string(i) + ".bin");
    else
      train_files.push_back(dir + "/train.bin");
    s.train = load_cifar_split(train_files, c10 ? 1 : 2, n);
    s.test = load_cifar_split({dir + (c10 ? "/test_batch.bin" : "/test.bin")}, c10 ? 1 : 2, n);
    s.num_classes = c10 ? 10 : 100;
    s.channels = 3;
    s.image_size = 32;
  } else if (name == "stl10") {
    check(!root.empty(), "data.root: set it to the folder of the STL-10 binary version (stl10_binary)");
    std::string dir = archive_dir(root, "stl10_binary", "test_X.bin", "STL-10");
    auto [train_x, train_y] = read_stl10_bin(dir + "/train_X.bin", dir + "/train_y.bin");
    Normalisation n = channel_stats(train_x);  // the whole train split, whatever the limit
    s.normalisation = describe(n, "the training split's statistics");
    // Limit before converting to float: the full splits take ~1.4 GB as float32.
    s.train = {normalise(first(train_x, train_limit), n), first(train_y, train_limit)};
    train_x = torch::Tensor();
    auto [test_x, test_y] = read_stl10_bin(dir + "/test_X.bin", dir + "/test_y.bin");
    s.test = {normalise(first(test_x, test_limit), n), first(test_y, test_limit)};
    s.channels = 3;
    s.image_size = 96;
  } else {
    throw Error("data.name: unknown dataset '" + name + "'; use fashion-mnist, mnist, cifar10, cifar100, stl10 or tensors");
  }
  s.train = limit(s.train, train_limit);
  s.test = limit(s.test, test_limit);
  return s;
}

namespace {

// What identifies a loaded dataset within one process: every option, and for a tensors file its
// size and modification time.
std::string cache_key(const DataOptions& opts) {
  std::ostringstream key;
  key << opts.name << '\n' << opts.root << '\n' << opts.file << '\n' << opts.normalize << '\n' << opts.num_classes
      << '\n' << opts.train_limit << '\n' << opts.test_limit << '\n' << opts.augment;
  std::error_code ec;
  if (!opts.file.empty()) {
    key << '\n' << std::filesystem::file_size(opts.file, ec);
    key << '\n' << std::filesystem::last_write_time(opts.file, ec).time_since_epoch().count();
  }
  return key.str();
}

}  // namespace

DataSplits load_dataset(const DataOptions& opts) {
  // `pdiff run` reads the same data in collect, generate and eval (~0.5 s each for
  // Fashion-MNIST): the last dataset is kept for the next stage of the process. Nothing changes
  // a loaded dataset's tensors in place, so the stages share them.
  static auto* cache = new std::pair<std::string, DataSplits>();  // never freed: no tensor dies after LibTorch
  auto& [cached_key, cached] = *cache;
  const std::string key = cache_key(opts);
  const bool hit = !cached_key.empty() && key == cached_key;
  const std::string& name = opts.name;
  DataSplits d;
  if (hit) {
    d = cached;
  } else if (name == "tensors") {
    d = load_tensor_dataset(opts.file, opts.normalize, opts.num_classes, opts.train_limit, opts.test_limit,
                            opts.augment);
  } else {
    // Keys of data.name=tensors are refused elsewhere rather than silently ignored.
    check(opts.file.empty(), "data.file is read only with data.name=tensors (data.name is " + name + ")");
    check(opts.normalize == "auto", "data.normalize=" + opts.normalize + " applies to data.name=tensors; " + name +
                                        " uses its own fixed statistics (data.normalize=auto)");
    check(opts.num_classes == 0, "data.num_classes applies to data.name=tensors; " + name +
                                     " has a fixed number of classes (leave it 0)");
    d = load_dataset(name, opts.root, opts.train_limit, opts.test_limit, opts.augment);
  }
  // One line, so a log says which augmentation data.augment resolved to and what a model trained
  // elsewhere must be fed to match (the normalisation).
  std::fprintf(stderr, "data: %s, %lld train / %lld test %s, %lldx%lldx%lld, %lld classes, augmentation %s; inputs: %s\n",
               d.name.c_str(), (long long)d.train.size(), (long long)d.test.size(),
               d.image_size > 1 ? "images" : "vectors", (long long)d.channels, (long long)d.image_size,
               (long long)d.image_size, (long long)d.num_classes, d.augment_description.c_str(),
               d.normalisation.c_str());
  if (!hit) cached_key = key, cached = d;
  return d;
}

}  // namespace pdiff
