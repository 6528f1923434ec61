// Tests of the STL-10 binary reader: a known pattern written column-major comes back in
// (C, H, W) row-major order with labels 0..9 and train-split normalisation; bad files give
// errors naming the file.
#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "data/dataset.h"
#include "test_util.h"

namespace pdiff::stl10_test {
namespace {

constexpr int64_t kHw = 96, kPlane = kHw * kHw, kImage = 3 * kPlane;

// Pixel (image i, channel c, row, col): depends on row and column differently, so a
// transposed image differs.
uint8_t pattern(int64_t i, int64_t c, int64_t row, int64_t col) {
  return static_cast<uint8_t>((3 * row + 7 * col + 50 * c + 11 * i) % 256);
}

std::string stl_images(int64_t n, int64_t offset) {
  std::string b;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t col = 0; col < kHw; ++col)  // column-major, as in the real files
        for (int64_t row = 0; row < kHw; ++row) b.push_back(static_cast<char>(pattern(i + offset, c, row, col)));
  return b;
}

torch::Tensor expected_u8(int64_t n, int64_t offset) {
  auto t = torch::empty({n, 3, kHw, kHw}, torch::kUInt8);
  auto a = t.accessor<uint8_t, 4>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t row = 0; row < kHw; ++row)
        for (int64_t col = 0; col < kHw; ++col) a[i][c][row][col] = pattern(i + offset, c, row, col);
  return t;
}

std::string stl_labels(int64_t n, int64_t offset) {
  std::string b;
  for (int64_t i = 0; i < n; ++i) b.push_back(static_cast<char>(1 + (i + offset) % 10));  // 1..10
  return b;
}

void write_raw(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

// A tiny STL-10 folder: 12 train images, 7 test images.
std::string write_pattern_stl(const std::string& dir) {
  write_raw(dir + "/train_X.bin", stl_images(12, 0));
  write_raw(dir + "/train_y.bin", stl_labels(12, 0));
  write_raw(dir + "/test_X.bin", stl_images(7, 100));
  write_raw(dir + "/test_y.bin", stl_labels(7, 100));
  return dir;
}

using test::error_of;

TEST(DatasetStl10, ReaderTransposesToRowMajor) {
  std::string dir = write_pattern_stl(test::temp_dir("stl10_raw"));
  auto [img, lab] = read_stl10_bin(dir + "/train_X.bin", dir + "/train_y.bin");
  EXPECT_EQ(img.scalar_type(), torch::kUInt8);
  ASSERT_EQ(img.sizes(), (std::vector<int64_t>{12, 3, 96, 96}));
  EXPECT_TRUE(torch::equal(img, expected_u8(12, 0)));
  // One pixel by hand: row 1, column 0 of channel 0 is byte 1 of the file (column-major).
  EXPECT_EQ(img[0][0][1][0].item<int64_t>(), pattern(0, 0, 1, 0));
  EXPECT_NE(img[0][0][1][0].item<int64_t>(), img[0][0][0][1].item<int64_t>());
  EXPECT_TRUE(torch::equal(lab, torch::arange(12, torch::kInt64).remainder(10)));
}

TEST(DatasetStl10, LoadsNormalisedWithTrainStatistics) {
  std::string dir = write_pattern_stl(test::temp_dir("stl10"));
  DataSplits d = load_dataset("stl10", dir);
  EXPECT_EQ(d.name, "stl10");
  EXPECT_EQ(d.num_classes, 10);
  EXPECT_EQ(d.channels, 3);
  EXPECT_EQ(d.image_size, 96);
  ASSERT_EQ(d.train.images.sizes(), (std::vector<int64_t>{12, 3, 96, 96}));
  ASSERT_EQ(d.test.images.sizes(), (std::vector<int64_t>{7, 3, 96, 96}));
  EXPECT_EQ(d.train.images.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(d.train.labels, torch::arange(12, torch::kInt64).remainder(10)));
  EXPECT_TRUE(torch::equal(d.test.labels, torch::arange(100, 107, torch::kInt64).remainder(10)));
  // Mean and (population) std per channel of the train split, applied to both splits.
  auto train = expected_u8(12, 0).to(torch::kFloat64) / 255.0;
  auto mean = train.mean({0, 2, 3}, true), std = train.std({0, 2, 3}, /*unbiased=*/false, true);
  auto want_train = ((train - mean) / std).to(torch::kFloat32);
  auto want_test = ((expected_u8(7, 100).to(torch::kFloat64) / 255.0 - mean) / std).to(torch::kFloat32);
  EXPECT_TRUE(torch::allclose(d.train.images, want_train, 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(d.test.images, want_test, 1e-5, 1e-5));
  // The transposed image would be far off.
  EXPECT_FALSE(torch::allclose(d.train.images, want_train.transpose(2, 3), 1e-2, 1e-2));
  // The archive's subfolder is accepted; limits keep the first images and the full split's
  // statistics.
  std::string parent = test::temp_dir("stl10_parent");
  ASSERT_EQ(std::system(("cp -r '" + dir + "' '" + parent + "/stl10_binary'").c_str()), 0);
  DataSplits sub = load_dataset("stl10", parent, 5, 2);
  EXPECT_EQ(sub.train.size(), 5);
  EXPECT_EQ(sub.test.size(), 2);
  EXPECT_TRUE(torch::allclose(sub.train.images, want_train.slice(0, 0, 5), 1e-5, 1e-5));
  EXPECT_TRUE(torch::equal(sub.test.labels, d.test.labels.slice(0, 0, 2)));
}

TEST(DatasetStl10, BadFilesNameTheFile) {
  std::string dir = write_pattern_stl(test::temp_dir("stl10_bad"));
  ASSERT_NO_THROW(load_dataset("stl10", dir));
  // Not a whole number of 27648-byte images.
  std::string x = stl_images(7, 100);
  write_raw(dir + "/test_X.bin", x.substr(0, x.size() - 100));
  std::string msg = error_of([&] { load_dataset("stl10", dir); });
  EXPECT_CONTAINS(msg, dir + "/test_X.bin");
  EXPECT_CONTAINS(msg, "27648");
  write_raw(dir + "/test_X.bin", "");
  EXPECT_CONTAINS(error_of([&] { load_dataset("stl10", dir); }), dir + "/test_X.bin");
  write_raw(dir + "/test_X.bin", x);
  // A label count that disagrees with the images.
  write_raw(dir + "/train_y.bin", stl_labels(11, 0));
  msg = error_of([&] { load_dataset("stl10", dir); });
  EXPECT_CONTAINS(msg, dir + "/train_y.bin");
  EXPECT_CONTAINS(msg, "11 labels");
  EXPECT_CONTAINS(msg, "12 images");
  // Labels outside 1..10 (0 and 11).
  for (char bad : {char(0), char(11)}) {
    std::string y = stl_labels(12, 0);
    y[4] = bad;
    write_raw(dir + "/train_y.bin", y);
    msg = error_of([&] { load_dataset("stl10", dir); });
    EXPECT_CONTAINS(msg, dir + "/train_y.bin");
    EXPECT_CONTAINS(msg, "1..10");
  }
  write_raw(dir + "/train_y.bin", stl_labels(12, 0));
  ASSERT_NO_THROW(load_dataset("stl10", dir));
  // Missing files and folders.
  std::remove((dir + "/test_y.bin").c_str());
  EXPECT_CONTAINS(error_of([&] { load_dataset("stl10", dir); }), dir + "/test_y.bin");
  EXPECT_CONTAINS(error_of([&] { load_dataset("stl10", dir + "/none"); }), "test_X.bin");
  EXPECT_CONTAINS(error_of([&] { load_dataset("stl10", ""); }), "data.root");
}

}  // namespace
}  // namespace pdiff::stl10_test
