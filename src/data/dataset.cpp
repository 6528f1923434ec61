#include "data/dataset.h"

#include <vector>

#include "core/error.h"
#include "core/file_io.h"

namespace pdiff {

namespace {

struct Normalisation {
  std::vector<double> mean, std;
};

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

Dataset load_idx_split(const std::string& root, const std::string& prefix, const Normalisation& n) {
  std::string img_path = idx_file(root, prefix + "-images-idx3-ubyte");
  std::string lab_path = idx_file(root, prefix + "-labels-idx1-ubyte");
  auto images = read_idx(img_path);
  auto labels = read_idx(lab_path);
  check(images.dim() == 3, img_path + ": expected 3 dimensions (N, H, W), got " + std::to_string(images.dim()));
  check(labels.dim() == 1, lab_path + ": expected 1 dimension (N), got " + std::to_string(labels.dim()));
  check(images.size(0) == labels.size(0),
        img_path + " has " + std::to_string(images.size(0)) + " images but " + lab_path + " has " +
            std::to_string(labels.size(0)) + " labels");
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

// CIFAR archives unpack into a subfolder; accept the root or that subfolder.
std::string cifar_dir(const std::string& root, const std::string& sub, const std::string& probe) {
  if (file_exists(root + "/" + probe)) return root;
  if (file_exists(root + "/" + sub + "/" + probe)) return root + "/" + sub;
  throw Error(root + ": " + probe + " not found (nor under " + sub +
              "/); set data.root to the folder of the CIFAR binary version");
}

Dataset limit(const Dataset& d, int64_t n) { return n > 0 && n < d.size() ? d.slice(0, n) : d; }

}  // namespace

Dataset Dataset::slice(int64_t begin, int64_t end) const {
  return {images.slice(0, begin, end), labels.slice(0, begin, end)};
}

DataSplits load_dataset(const std::string& name, const std::string& root_in, int64_t train_limit,
                        int64_t test_limit) {
  DataSplits s;
  s.name = name;
  std::string root = root_in;
  if (name == "fashion-mnist" || name == "mnist") {
    if (root.empty()) {
      check(name == "fashion-mnist", "data.root: MNIST is not packaged; set data.root to your MNIST folder");
      root = "/usr/share/datasets/fashion-mnist";
    }
    Normalisation n = name == "mnist" ? Normalisation{{0.1307}, {0.3081}} : Normalisation{{0.2860}, {0.3530}};
    s.train = load_idx_split(root, "train", n);
    s.test = load_idx_split(root, "t10k", n);
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
    std::string dir = cifar_dir(root, c10 ? "cifar-10-batches-bin" : "cifar-100-binary",
                                c10 ? "test_batch.bin" : "test.bin");
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
    s.crop_padding = 4;
  } else {
    throw Error("data.name: unknown dataset '" + name + "'; use fashion-mnist, mnist, cifar10 or cifar100");
  }
  s.train = limit(s.train, train_limit);
  s.test = limit(s.test, test_limit);
  return s;
}

torch::Tensor augment(const torch::Tensor& images, int64_t pad, torch::Generator& gen) {
  const int64_t b = images.size(0);
  auto flip = torch::rand({b}, gen, torch::TensorOptions().dtype(torch::kFloat32)).lt(0.5);
  auto out = torch::where(flip.view({b, 1, 1, 1}), images.flip({3}), images);
  if (pad <= 0) return out;
  const int64_t h = images.size(2), w = images.size(3);
  auto padded = torch::constant_pad_nd(out, {pad, pad, pad, pad}, 0.0);
  auto offsets = torch::randint(0, 2 * pad + 1, {b, 2}, gen, torch::kInt64);
  auto acc = offsets.accessor<int64_t, 2>();
  std::vector<torch::Tensor> crops;
  crops.reserve(b);
  for (int64_t i = 0; i < b; ++i)
    crops.push_back(padded[i].slice(1, acc[i][0], acc[i][0] + h).slice(2, acc[i][1], acc[i][1] + w));
  return torch::stack(crops);
}

}  // namespace pdiff
