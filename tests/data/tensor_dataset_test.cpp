// data.name=tensors (data/dataset.h load_tensor_dataset): files written here the way Python's
// torch.save writes a plain dict (a pickled dict of tensors, no format keys); shapes, scaling,
// normalisation, augmentation policy, and every refusal naming the file and the key.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/config.h"
#include "io/file_io.h"
#include "data/dataset.h"
#include "test_util.h"
#include "zoo/zoo_file.h"
#include "run/stage_options.h"

namespace pdiff::tensor_dataset_test {
namespace {

using Entries = std::vector<std::pair<std::string, torch::Tensor>>;

// A pickled dict of tensors, as torch.save({"train_x": ..., ...}, path) writes it.
std::string write_dict(const std::string& path, const Entries& entries) {
  DictFile f;
  for (const auto& [k, v] : entries) f.set_tensor(k, v);
  std::vector<char> bytes = torch::pickle_save(c10::IValue(f.dict()));
  write_file_atomic(path, std::string(bytes.begin(), bytes.end()));
  return path;
}

// n images of s x s pixels (uint8), labels cycling through `classes`.
Entries images_u8(int64_t n_train, int64_t n_test, int64_t s, int64_t classes) {
  torch::manual_seed(0);
  return {{"train_x", torch::randint(0, 256, {n_train, s, s}).to(torch::kUInt8)},
          {"train_y", torch::arange(n_train) % classes},
          {"test_x", torch::randint(0, 256, {n_test, s, s}).to(torch::kUInt8)},
          {"test_y", torch::arange(n_test) % classes}};
}

Entries with(Entries e, const std::string& key, const torch::Tensor& t) {
  for (auto& [k, v] : e)
    if (k == key) v = t;
  return e;
}

Entries without(Entries e, const std::string& key) {
  e.erase(std::remove_if(e.begin(), e.end(), [&](const auto& kv) { return kv.first == key; }), e.end());
  return e;
}

TEST(TensorDataset, Uint8ImagesScaledAsStored) {
  const std::string path = write_dict(test::temp_dir("tensors") + "/d.pt", images_u8(20, 10, 8, 3));
  DataSplits d = load_tensor_dataset(path, "auto", 0);
  EXPECT_EQ(d.name, "tensors");
  EXPECT_EQ(d.train.images.sizes(), (std::vector<int64_t>{20, 1, 8, 8}));
  EXPECT_EQ(d.test.images.sizes(), (std::vector<int64_t>{10, 1, 8, 8}));
  EXPECT_EQ(d.train.images.scalar_type(), torch::kFloat32);
  EXPECT_EQ(d.channels, 1);
  EXPECT_EQ(d.image_size, 8);
  EXPECT_EQ(d.num_classes, 3);
  EXPECT_FALSE(d.flip);  // auto: no augmentation for your own data
  EXPECT_EQ(d.crop_padding, 0);
  EXPECT_EQ(d.augment_description, "none");
  DictFile f = DictFile::load_any(path);
  EXPECT_TRUE(torch::allclose(d.train.images.squeeze(1), f.tensor("train_x").to(torch::kFloat32) / 255.0));
  EXPECT_TRUE(torch::equal(d.test.labels, f.tensor("test_y")));
  // none is auto; limits keep the first items.
  DataSplits l = load_tensor_dataset(path, "none", 5, 7, 4);
  EXPECT_EQ(l.train.size(), 7);
  EXPECT_EQ(l.test.size(), 4);
  EXPECT_EQ(l.num_classes, 5);
  EXPECT_TRUE(torch::equal(l.train.images, d.train.images.slice(0, 0, 7)));
}

TEST(TensorDataset, FeatureVectorsAndColourImages) {
  const std::string dir = test::temp_dir("tensors_shapes");
  Entries vec = {{"train_x", torch::randn({30, 12})},
                 {"train_y", torch::arange(30) % 4},
                 {"test_x", torch::randn({6, 12}, torch::kFloat64)},
                 {"test_y", torch::arange(6) % 4}};
  DataSplits v = load_tensor_dataset(write_dict(dir + "/v.pt", vec), "auto", 0);
  EXPECT_EQ(v.train.images.sizes(), (std::vector<int64_t>{30, 12, 1, 1}));
  EXPECT_EQ(v.channels, 12);
  EXPECT_EQ(v.image_size, 1);
  EXPECT_EQ(v.num_classes, 4);
  EXPECT_TRUE(torch::allclose(v.test.images.flatten(1), vec[2].second.to(torch::kFloat32)));
  // Flip and crop need images.
  EXPECT_CONTAINS(test::error_of([&] { load_tensor_dataset(dir + "/v.pt", "auto", 0, 0, 0, "flip"); }),
                  "data.augment: 'flip' needs images");

  Entries rgb = {{"train_x", torch::rand({16, 3, 16, 16})},
                 {"train_y", torch::arange(16) % 2},
                 {"test_x", torch::rand({4, 3, 16, 16})},
                 {"test_y", torch::arange(4) % 2}};
  DataSplits c = load_tensor_dataset(write_dict(dir + "/c.pt", rgb), "auto", 0, 0, 0, "flip+crop");
  EXPECT_EQ(c.channels, 3);
  EXPECT_EQ(c.image_size, 16);
  EXPECT_TRUE(c.flip);
  EXPECT_EQ(c.crop_padding, 2);  // an eighth of the image size
  EXPECT_EQ(c.augment_description, "flip+crop(pad 2)");
}

TEST(TensorDataset, StandardNormalisationFromTheTrainingSplit) {
  torch::manual_seed(1);
  auto train = torch::randn({200, 2, 4, 4}) * torch::tensor({3.0f, 0.5f}).view({1, 2, 1, 1}) +
               torch::tensor({10.0f, -2.0f}).view({1, 2, 1, 1});
  auto test = train.slice(0, 0, 50).clone();
  Entries e = {{"train_x", train}, {"train_y", torch::arange(200) % 2}, {"test_x", test}, {"test_y", torch::arange(50) % 2}};
  DataSplits d = load_tensor_dataset(write_dict(test::temp_dir("tensors_std") + "/d.pt", e), "standard", 0);
  auto mean = d.train.images.mean(std::vector<int64_t>{0, 2, 3});
  auto std = d.train.images.std(std::vector<int64_t>{0, 2, 3}, /*unbiased=*/false);
  EXPECT_LT(mean.abs().max().item<double>(), 1e-4);
  EXPECT_LT((std - 1).abs().max().item<double>(), 1e-4);
  // The test split uses the training split's statistics.
  EXPECT_TRUE(torch::allclose(d.test.images, d.train.images.slice(0, 0, 50)));
}

TEST(TensorDataset, BadFilesNameTheFileAndKey) {
  const std::string dir = test::temp_dir("tensors_bad");
  const Entries good = images_u8(12, 6, 8, 3);
  auto refused = [&](const std::string& name, const Entries& e, int64_t classes = 0) {
    const std::string path = write_dict(dir + "/" + name + ".pt", e);
    std::string msg = test::error_of([&] { load_tensor_dataset(path, "auto", classes); });
    EXPECT_CONTAINS(msg, path);
    return msg;
  };
  EXPECT_CONTAINS(refused("missing", without(good, "test_y")), "missing key 'test_y'");
  EXPECT_CONTAINS(refused("int32", with(good, "train_y", torch::arange(12, torch::kInt32) % 3)),
                  "key 'train_y' has dtype Int; labels must be int64");
  EXPECT_CONTAINS(refused("intx", with(good, "train_x", torch::zeros({12, 8, 8}, torch::kInt32))),
                  "key 'train_x' has dtype Int; inputs must be float or uint8");
  EXPECT_CONTAINS(refused("lengths", with(good, "test_y", torch::arange(5) % 3)),
                  "key 'test_y' has 5 labels but 'test_x' has 6 inputs");
  EXPECT_CONTAINS(refused("negative", with(good, "train_y", torch::arange(12) - 1)), "key 'train_y' holds the label -1");
  EXPECT_CONTAINS(refused("range", good, 2), "key 'train_y' holds the label 2, out of range for data.num_classes = 2");
  auto nan = torch::zeros({6, 8, 8});
  nan[3][2][1] = std::nan("");
  EXPECT_CONTAINS(refused("nan", with(good, "test_x", nan)), "key 'test_x' holds a non-finite value");
  EXPECT_CONTAINS(refused("square", with(good, "train_x", torch::zeros({12, 1, 8, 6}))), "must be square");
  EXPECT_CONTAINS(refused("shape", with(good, "test_x", torch::zeros({6, 9, 9}))),
                  "the two splits need the same input shape");
  // uint8 is scaled to [0, 1], floats are used as stored: one of each would differ in scale.
  EXPECT_CONTAINS(refused("mixed", with(good, "test_x", torch::full({6, 8, 8}, 200.0))),
                  "'train_x' is uint8 but 'test_x' is float; pdiff scales uint8 inputs to [0, 1]");
  EXPECT_CONTAINS(refused("one_class", with(with(good, "train_y", torch::zeros({12}, torch::kInt64)), "test_y",
                                            torch::zeros({6}, torch::kInt64))),
                  "a single class");
  EXPECT_CONTAINS(test::error_of([&] { load_tensor_dataset(dir + "/absent.pt", "auto", 0); }), dir + "/absent.pt");
  EXPECT_CONTAINS(test::error_of([&] { load_tensor_dataset("", "auto", 0); }), "data.file");
}

TEST(TensorDataset, ConfigKeysBelongToTensors) {
  const std::string path = write_dict(test::temp_dir("tensors_cfg") + "/d.pt", images_u8(12, 6, 8, 3));
  testing::internal::CaptureStderr();
  DataSplits d = load_dataset(data_options(Config::load("", {"data.name=tensors", "data.file=" + path})));
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err, "data: tensors, 12 train / 6 test images, 1x8x8, 3 classes, augmentation none; inputs: uint8 "
                 "scaled to [0, 1] (data.normalize=standard to standardise)\n");
  EXPECT_EQ(d.num_classes, 3);
  // Keys of data.name=tensors are refused with another dataset rather than ignored.
  EXPECT_CONTAINS(test::error_of([&] { load_dataset(data_options(Config::load("", {"data.file=" + path}))); }),
                  "data.file is read only with data.name=tensors");
  EXPECT_CONTAINS(test::error_of([&] { load_dataset(data_options(Config::load("", {"data.normalize=standard"}))); }),
                  "data.normalize=standard applies to data.name=tensors");
  EXPECT_CONTAINS(test::error_of([&] { load_dataset(data_options(Config::load("", {"data.num_classes=5"}))); }),
                  "data.num_classes applies to data.name=tensors");
}

}  // namespace
}  // namespace pdiff::tensor_dataset_test
