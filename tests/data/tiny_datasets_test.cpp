// Tests of the tiny dataset writers of test_util.h: each writes files the real reader loads,
// in the right orientation (the images brighten from top to bottom), with labels cycling
// through the classes, and the classes are learnable (nearest class mean, and a few steps
// of a linear classifier); load_dataset(Config) resolves and reports the augmentation.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "core/config.h"
#include "data/dataset.h"
#include "test_util.h"
#include "zoo/batch_schedule.h"
#include "zoo/zoo_file.h"
#include "run/stage_options.h"

namespace pdiff::tiny_datasets_test {
namespace {

// Bottom rows minus top rows, and right columns minus left columns, of the mean image.
std::pair<double, double> ramps(const torch::Tensor& images) {
  torch::Tensor m = images.mean(std::vector<int64_t>{0, 1});
  const int64_t n = m.size(0), q = n / 4;
  double rows = (m.slice(0, n - q, n).mean() - m.slice(0, 0, q).mean()).item<double>();
  double cols = (m.slice(1, n - q, n).mean() - m.slice(1, 0, q).mean()).item<double>();
  return {rows, cols};
}

// Accuracy on `test` of the nearest class mean of `train`.
double nearest_mean_accuracy(const Dataset& train, const torch::Tensor& test_images, const torch::Tensor& test_labels,
                             int64_t classes) {
  auto x = train.images.flatten(1);
  auto means = torch::zeros({classes, x.size(1)});
  means.index_add_(0, train.labels, x);
  means /= torch::bincount(train.labels, {}, classes).clamp_min(1).unsqueeze(1).to(torch::kFloat32);
  auto pred = torch::cdist(test_images.flatten(1), means).argmin(1);
  return pred.eq(test_labels).to(torch::kFloat64).mean().item<double>();
}

void expect_learnable_and_upright(const DataSplits& d) {
  auto [rows, cols] = ramps(d.train.images);
  EXPECT_GT(rows, 0.3) << d.name << ": images must brighten from top to bottom";
  EXPECT_LT(std::abs(cols), rows / 4) << d.name << ": rows and columns swapped?";
  EXPECT_GT(nearest_mean_accuracy(d.train, d.test.images, d.test.labels, d.num_classes), 0.9) << d.name;
}

TEST(DatasetTiny, Cifar10) {
  std::string root = test::write_tiny_cifar10(test::temp_dir("tiny") + "/cifar10/new", 53, 20);
  DataSplits d = load_dataset("cifar10", root);
  ASSERT_EQ(d.train.images.sizes(), (std::vector<int64_t>{53, 3, 32, 32}));
  ASSERT_EQ(d.test.images.sizes(), (std::vector<int64_t>{20, 3, 32, 32}));
  EXPECT_TRUE(torch::equal(d.train.labels, torch::arange(53, torch::kInt64).remainder(10)));
  EXPECT_TRUE(torch::equal(d.test.labels, torch::arange(20, torch::kInt64).remainder(10)));
  auto [b1, l1] = read_cifar_bin(root + "/data_batch_1.bin", 1);
  EXPECT_EQ(b1.size(0), 10);  // 53 images over 5 files: 10, 11, 10, 11, 11
  expect_learnable_and_upright(d);
  // A class stays recognisable after the dataset's flip and crop.
  auto gen = make_generator(3);
  auto aug = augment(d.test.images, d.flip, d.crop_padding, gen);
  EXPECT_GT(nearest_mean_accuracy(d.train, aug, d.test.labels, 10), 0.5);
  // Deterministic from the seed; another seed gives other images.
  std::string again = test::write_tiny_cifar10(test::temp_dir("tiny_again"), 53, 20);
  std::string other = test::write_tiny_cifar10(test::temp_dir("tiny_other"), 53, 20, 1);
  EXPECT_TRUE(torch::equal(load_dataset("cifar10", again).train.images, d.train.images));
  EXPECT_FALSE(torch::equal(load_dataset("cifar10", other).train.images, d.train.images));
}

TEST(DatasetTiny, Cifar100) {
  std::string root = test::write_tiny_cifar100(test::temp_dir("tiny_c100"), 300, 100);
  DataSplits d = load_dataset("cifar100", root);
  EXPECT_EQ(d.num_classes, 100);
  ASSERT_EQ(d.train.images.sizes(), (std::vector<int64_t>{300, 3, 32, 32}));
  EXPECT_TRUE(torch::equal(d.test.labels, torch::arange(100, torch::kInt64)));
  // Two label bytes per record: coarse, then fine.
  std::ifstream in(root + "/train.bin", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(bytes.size(), 300u * 3074);
  EXPECT_EQ(bytes[57 * 3074 + 1], 57);
  EXPECT_EQ(bytes[57 * 3074], 57 / 5);
  expect_learnable_and_upright(d);
}

TEST(DatasetTiny, Stl10) {
  std::string root = test::write_tiny_stl10(test::temp_dir("tiny_stl"), 30, 20);
  DataSplits d = load_dataset("stl10", root);
  ASSERT_EQ(d.train.images.sizes(), (std::vector<int64_t>{30, 3, 96, 96}));
  ASSERT_EQ(d.test.images.sizes(), (std::vector<int64_t>{20, 3, 96, 96}));
  EXPECT_TRUE(torch::equal(d.train.labels, torch::arange(30, torch::kInt64).remainder(10)));
  // Normalised with the train split's own statistics.
  EXPECT_NEAR(d.train.images.mean().item<double>(), 0.0, 1e-4);
  EXPECT_NEAR(d.train.images.std().item<double>(), 1.0, 1e-3);
  expect_learnable_and_upright(d);
}

TEST(DatasetTiny, Mnist) {
  std::string root = test::write_tiny_mnist(test::temp_dir("tiny_mnist"), 40, 20);
  for (const std::string name : {"mnist", "fashion-mnist"}) {
    DataSplits d = load_dataset(name, root);
    ASSERT_EQ(d.train.images.sizes(), (std::vector<int64_t>{40, 1, 28, 28}));
    ASSERT_EQ(d.test.images.sizes(), (std::vector<int64_t>{20, 1, 28, 28}));
    EXPECT_TRUE(torch::equal(d.test.labels, torch::arange(20, torch::kInt64).remainder(10)));
    expect_learnable_and_upright(d);
  }
}

TEST(DatasetTiny, LinearClassifierLearnsInOneEpoch) {
  // What the end-to-end tests rely on: a small model gets well above chance after a few
  // augmented steps.
  std::string root = test::write_tiny_cifar10(test::temp_dir("tiny_learn"), 320, 100);
  DataSplits d = load_dataset("cifar10", root);
  torch::manual_seed(0);
  torch::nn::Linear fc(3 * 32 * 32, 10);
  torch::optim::SGD opt(fc->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  BatchSchedule schedule(d, 32, 0);
  for (int64_t it = 0; it < schedule.iters_per_epoch(); ++it) {
    auto [x, y] = schedule.batch(it);
    opt.zero_grad();
    torch::nn::functional::cross_entropy(fc(x.flatten(1)), y).backward();
    opt.step();
  }
  torch::NoGradGuard ng;
  double acc = fc(d.test.images.flatten(1)).argmax(1).eq(d.test.labels).to(torch::kFloat64).mean().item<double>();
  EXPECT_GT(acc, 0.5);
}

TEST(DatasetTiny, LoadFromConfigReportsAugmentation) {
  std::string root = test::write_tiny_stl10(test::temp_dir("tiny_cfg"), 20, 10);
  Config cfg = Config::load("", {"data.name=stl10", "data.root=" + root});
  testing::internal::CaptureStderr();
  DataSplits d = load_dataset(data_options(cfg));
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(d.flip);
  EXPECT_EQ(d.crop_padding, 12);
  EXPECT_EQ(d.augment_description, "flip+crop(pad 12)");
  EXPECT_EQ(err.substr(0, err.find(';')), "data: stl10, 20 train / 10 test images, 3x96x96, 10 classes, augmentation flip+crop(pad 12)");
  // and what was done to the inputs: STL-10 is standardised with its training split's statistics.
  EXPECT_CONTAINS(err, "; inputs: x/255, then (x - (");
  EXPECT_CONTAINS(err, "per channel (the training split's statistics)\n");
  DataSplits none = load_dataset(data_options(Config::load("", {"data.name=stl10", "data.root=" + root, "data.augment=false"})));
  EXPECT_FALSE(none.flip);
  EXPECT_EQ(none.crop_padding, 0);
  EXPECT_EQ(none.augment_description, "none");
  DataSplits flip = load_dataset(data_options(Config::load("", {"data.name=stl10", "data.root=" + root, "data.augment=flip"})));
  EXPECT_TRUE(flip.flip);
  EXPECT_EQ(flip.crop_padding, 0);
}

}  // namespace
}  // namespace pdiff::tiny_datasets_test
