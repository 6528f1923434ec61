// Tests of the dataset readers: IDX files (gzip and raw) written here in the real format,
// truncated / corrupt / wrong-magic files, CIFAR-10 and CIFAR-100 binary files, augmentation,
// and (when installed, which the README's install step does) the real Fashion-MNIST.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <fstream>

#include "core/error.h"
#include "data/dataset.h"
#include "test_util.h"
#include "zoo/batch_schedule.h"

namespace pdiff::dataset_test {
namespace {

using Bytes = std::string;

void put_be32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<char>((v >> s) & 0xff));
}

// An IDX file of unsigned bytes: magic 0x0000 08 ndim, big-endian dims, payload.
Bytes idx_bytes(const std::vector<uint32_t>& dims, const Bytes& payload) {
  Bytes b;
  put_be32(b, 0x00000800u | static_cast<uint32_t>(dims.size()));
  for (auto d : dims) put_be32(b, d);
  return b + payload;
}

void write_raw(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

void write_gz(const std::string& path, const Bytes& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

Bytes read_raw(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Deterministic pseudo-random pixels.
Bytes pixels(size_t n, uint32_t seed) {
  Bytes b(n, '\0');
  uint32_t x = seed * 2654435761u + 12345u;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    b[i] = static_cast<char>(x >> 24);
  }
  return b;
}

struct FakeMnist {
  std::string dir;
  Bytes train_px, test_px, train_lab, test_lab;
};

// Writes the four MNIST files (n_train, n_test images of 28x28) into a fresh temp dir.
FakeMnist write_mnist(bool gz, int n_train = 12, int n_test = 5) {
  FakeMnist m;
  m.dir = test::temp_dir(gz ? "mnist_gz" : "mnist_raw");
  m.train_px = pixels(n_train * 784, 1);
  m.test_px = pixels(n_test * 784, 2);
  for (int i = 0; i < n_train; ++i) m.train_lab.push_back(static_cast<char>(i % 10));
  for (int i = 0; i < n_test; ++i) m.test_lab.push_back(static_cast<char>((7 * i + 3) % 10));
  auto w = [&](const std::string& stem, const Bytes& b) {
    if (gz) write_gz(m.dir + "/" + stem + ".gz", b);
    else write_raw(m.dir + "/" + stem, b);
  };
  w("train-images-idx3-ubyte", idx_bytes({uint32_t(n_train), 28, 28}, m.train_px));
  w("train-labels-idx1-ubyte", idx_bytes({uint32_t(n_train)}, m.train_lab));
  w("t10k-images-idx3-ubyte", idx_bytes({uint32_t(n_test), 28, 28}, m.test_px));
  w("t10k-labels-idx1-ubyte", idx_bytes({uint32_t(n_test)}, m.test_lab));
  return m;
}

torch::Tensor expected_images(const Bytes& px, int64_t n, int64_t c, int64_t hw, std::vector<double> mean,
                              std::vector<double> std) {
  auto u8 = torch::from_blob(const_cast<char*>(px.data()), {n, c, hw, hw}, torch::kUInt8).clone();
  auto x = u8.to(torch::kFloat64) / 255.0;
  auto m = torch::tensor(mean, torch::kFloat64).view({1, c, 1, 1});
  auto s = torch::tensor(std, torch::kFloat64).view({1, c, 1, 1});
  return ((x - m) / s).to(torch::kFloat32);
}

torch::Tensor labels_of(const Bytes& b, int64_t stride = 1, int64_t offset = 0) {
  std::vector<int64_t> v;
  for (size_t i = offset; i < b.size(); i += stride) v.push_back(static_cast<uint8_t>(b[i]));
  return torch::tensor(v, torch::kInt64);
}

using test::error_of;

// --- IDX ---------------------------------------------------------------------------------

TEST(Idx, LoadMnistGzipAndRaw) {
  for (bool gz : {true, false}) {
    SCOPED_TRACE(gz ? "gzip" : "raw");
    FakeMnist m = write_mnist(gz);
    DataSplits d = load_dataset("mnist", m.dir);
    EXPECT_EQ(d.name, "mnist");
    EXPECT_EQ(d.channels, 1);
    EXPECT_EQ(d.image_size, 28);
    EXPECT_EQ(d.num_classes, 10);
    EXPECT_EQ(d.crop_padding, 0);
    ASSERT_EQ(d.train.images.sizes(), (std::vector<int64_t>{12, 1, 28, 28}));
    ASSERT_EQ(d.test.images.sizes(), (std::vector<int64_t>{5, 1, 28, 28}));
    EXPECT_EQ(d.train.images.scalar_type(), torch::kFloat32);
    EXPECT_EQ(d.train.labels.scalar_type(), torch::kInt64);
    EXPECT_TRUE(torch::equal(d.train.labels, labels_of(m.train_lab)));
    EXPECT_TRUE(torch::equal(d.test.labels, labels_of(m.test_lab)));
    auto want_train = expected_images(m.train_px, 12, 1, 28, {0.1307}, {0.3081});
    auto want_test = expected_images(m.test_px, 5, 1, 28, {0.1307}, {0.3081});
    EXPECT_TRUE(torch::allclose(d.train.images, want_train, 1e-5, 1e-5));
    EXPECT_TRUE(torch::allclose(d.test.images, want_test, 1e-5, 1e-5));
    // One pixel by hand: byte 0 of the train file.
    double v = static_cast<uint8_t>(m.train_px[0]);
    EXPECT_NEAR(d.train.images[0][0][0][0].item<double>(), (v / 255.0 - 0.1307) / 0.3081, 1e-5);
  }
}

TEST(Idx, FashionMnistNormalisationAndLimits) {
  FakeMnist m = write_mnist(true);
  DataSplits d = load_dataset("fashion-mnist", m.dir, 7, 3);
  ASSERT_EQ(d.train.size(), 7);
  ASSERT_EQ(d.test.size(), 3);
  auto want = expected_images(m.train_px, 12, 1, 28, {0.2860}, {0.3530}).slice(0, 0, 7);
  EXPECT_TRUE(torch::allclose(d.train.images, want, 1e-5, 1e-5));
  EXPECT_TRUE(torch::equal(d.test.labels, labels_of(m.test_lab).slice(0, 0, 3)));
  // Limits beyond the size keep everything.
  DataSplits all = load_dataset("fashion-mnist", m.dir, 1000, 1000);
  EXPECT_EQ(all.train.size(), 12);
  EXPECT_EQ(all.test.size(), 5);
}

TEST(Idx, ReadIdxShapesAndBytes) {
  std::string dir = test::temp_dir("idx");
  Bytes px = pixels(2 * 3 * 4, 9);
  write_gz(dir + "/a.gz", idx_bytes({2, 3, 4}, px));
  auto t = read_idx(dir + "/a.gz");
  EXPECT_EQ(t.scalar_type(), torch::kUInt8);
  ASSERT_EQ(t.sizes(), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(t[1][2][3].item<int64_t>(), static_cast<uint8_t>(px[23]));
  EXPECT_EQ(t[0][1][0].item<int64_t>(), static_cast<uint8_t>(px[4]));
  // A limited read (data.train_limit): the first items only, and how many the header promises.
  int64_t total = 0;
  auto first = read_idx(dir + "/a.gz", 1, &total);
  EXPECT_EQ(total, 2);
  ASSERT_EQ(first.sizes(), (std::vector<int64_t>{1, 3, 4}));
  EXPECT_TRUE(torch::equal(first, t.slice(0, 0, 1)));
}

TEST(Idx, TruncatedFileThrowsNamingFile) {
  std::string dir = test::temp_dir("idx_trunc");
  Bytes full = idx_bytes({10, 28, 28}, pixels(10 * 784, 3));
  Bytes cut = full.substr(0, full.size() - 100);
  // Raw and gzip files whose payload is short.
  write_raw(dir + "/raw-images", cut);
  write_gz(dir + "/gz-images.gz", cut);
  for (const std::string& p : {dir + "/raw-images", dir + "/gz-images.gz"}) {
    std::string msg = error_of([&] { read_idx(p); });
    EXPECT_CONTAINS(msg, p);
    EXPECT_CONTAINS(msg, "truncated");
  }
  // Cut inside the header.
  write_raw(dir + "/header", full.substr(0, 6));
  std::string msg = error_of([&] { read_idx(dir + "/header"); });
  EXPECT_CONTAINS(msg, dir + "/header");
  EXPECT_CONTAINS(msg, "truncated");
  // A gzip file cut in the middle of the compressed stream.
  write_gz(dir + "/whole.gz", full);
  Bytes gz = read_raw(dir + "/whole.gz");
  write_raw(dir + "/cut.gz", gz.substr(0, gz.size() / 2));
  msg = error_of([&] { read_idx(dir + "/cut.gz"); });
  EXPECT_CONTAINS(msg, dir + "/cut.gz");
  // Through load_dataset: the message names the truncated file.
  FakeMnist m = write_mnist(true);
  Bytes img = idx_bytes({12, 28, 28}, m.train_px);
  write_gz(m.dir + "/train-images-idx3-ubyte.gz", img.substr(0, img.size() - 784));
  msg = error_of([&] { load_dataset("mnist", m.dir); });
  EXPECT_CONTAINS(msg, m.dir + "/train-images-idx3-ubyte.gz");
  EXPECT_CONTAINS(msg, "truncated");
}

TEST(Idx, CorruptGzipThrows) {
  std::string dir = test::temp_dir("idx_corrupt");
  write_gz(dir + "/good.gz", idx_bytes({10, 28, 28}, pixels(10 * 784, 4)));
  Bytes gz = read_raw(dir + "/good.gz");
  ASSERT_GT(gz.size(), 100u);
  // Garbage in the middle of the deflate stream.
  Bytes mid = gz;
  for (size_t i = mid.size() / 2; i < mid.size() / 2 + 16; ++i) mid[i] = static_cast<char>(mid[i] ^ 0x5a);
  write_raw(dir + "/mid.gz", mid);
  std::string msg = error_of([&] { read_idx(dir + "/mid.gz"); });
  EXPECT_CONTAINS(msg, dir + "/mid.gz");
  // A wrong CRC in the trailer.
  Bytes crc = gz;
  crc[crc.size() - 8] = static_cast<char>(crc[crc.size() - 8] ^ 0xff);
  write_raw(dir + "/crc.gz", crc);
  msg = error_of([&] { read_idx(dir + "/crc.gz"); });
  EXPECT_CONTAINS(msg, dir + "/crc.gz");
  // Trailing data after the payload (raw).
  write_raw(dir + "/trail", idx_bytes({4}, "abcd") + "xyz");
  msg = error_of([&] { read_idx(dir + "/trail"); });
  EXPECT_CONTAINS(msg, dir + "/trail");
}

TEST(Idx, ImplausibleHeaderThrows) {
  // Dimensions whose product overflows 64 bits, or promises far more data than any IDX
  // dataset holds: a clear pdiff::Error naming the file, not an allocation failure.
  std::string dir = test::temp_dir("idx_huge");
  write_gz(dir + "/huge.gz", idx_bytes({1u << 27, 1u << 27, 1u << 27}, "abc"));
  std::string msg = error_of([&] { read_idx(dir + "/huge.gz"); });
  EXPECT_CONTAINS(msg, dir + "/huge.gz");
  write_raw(dir + "/big", idx_bytes({1u << 20, 1u << 20}, "abc"));
  EXPECT_CONTAINS(error_of([&] { read_idx(dir + "/big"); }), dir + "/big");
  // A zero dimension.
  write_raw(dir + "/zero", idx_bytes({0, 28, 28}, ""));
  EXPECT_CONTAINS(error_of([&] { read_idx(dir + "/zero"); }), dir + "/zero");
}

TEST(Idx, BadMagicThrows) {
  std::string dir = test::temp_dir("idx_magic");
  Bytes b = idx_bytes({2, 28, 28}, pixels(2 * 784, 5));
  Bytes bad = b;
  bad[0] = 0x12;
  bad[1] = 0x34;
  write_raw(dir + "/magic", bad);
  std::string msg = error_of([&] { read_idx(dir + "/magic"); });
  EXPECT_CONTAINS(msg, dir + "/magic");
  EXPECT_CONTAINS(msg, "magic");
  write_gz(dir + "/magic.gz", bad);
  EXPECT_CONTAINS(error_of([&] { read_idx(dir + "/magic.gz"); }), dir + "/magic.gz");
  // Element type other than unsigned byte (0x0D = float).
  Bytes flt = b;
  flt[2] = 0x0D;
  write_raw(dir + "/float", flt);
  EXPECT_CONTAINS(error_of([&] { read_idx(dir + "/float"); }), dir + "/float");
  // Label and image files swapped: wrong number of dimensions.
  FakeMnist m = write_mnist(false);
  std::rename((m.dir + "/train-labels-idx1-ubyte").c_str(), (m.dir + "/tmp").c_str());
  std::rename((m.dir + "/train-images-idx3-ubyte").c_str(), (m.dir + "/train-labels-idx1-ubyte").c_str());
  std::rename((m.dir + "/tmp").c_str(), (m.dir + "/train-images-idx3-ubyte").c_str());
  EXPECT_CONTAINS(error_of([&] { load_dataset("mnist", m.dir); }), m.dir);
}

TEST(Idx, MismatchedCountsAndMissingFiles) {
  FakeMnist m = write_mnist(true);
  write_gz(m.dir + "/t10k-labels-idx1-ubyte.gz", idx_bytes({4}, m.test_lab.substr(0, 4)));
  std::string msg = error_of([&] { load_dataset("mnist", m.dir); });
  EXPECT_CONTAINS(msg, "t10k-labels-idx1-ubyte.gz");
  std::string empty = test::temp_dir("mnist_empty");
  msg = error_of([&] { load_dataset("mnist", empty); });
  EXPECT_CONTAINS(msg, "train-images-idx3-ubyte");
  EXPECT_CONTAINS(msg, "data.root");
  // MNIST has no packaged default folder; unknown names are refused.
  EXPECT_CONTAINS(error_of([] { load_dataset("mnist", ""); }), "data.root");
  EXPECT_CONTAINS(error_of([&] { load_dataset("imagenet", m.dir); }), "imagenet");
  // Train and test images of different sizes (files of two datasets mixed).
  FakeMnist mixed = write_mnist(true);
  write_gz(mixed.dir + "/t10k-images-idx3-ubyte.gz", idx_bytes({5, 32, 32}, pixels(5 * 1024, 3)));
  msg = error_of([&] { load_dataset("mnist", mixed.dir); });
  EXPECT_CONTAINS(msg, mixed.dir);
  EXPECT_CONTAINS(msg, "test images");
  // Labels outside 0-9.
  FakeMnist bad = write_mnist(true);
  Bytes lab = bad.train_lab;
  lab[3] = 12;
  write_gz(bad.dir + "/train-labels-idx1-ubyte.gz", idx_bytes({uint32_t(lab.size())}, lab));
  EXPECT_CONTAINS(error_of([&] { load_dataset("mnist", bad.dir); }), "train-labels-idx1-ubyte.gz");
}

// --- CIFAR -------------------------------------------------------------------------------

// n records of label_bytes label bytes + 3072 pixels; labels[i] is the (fine) label.
Bytes cifar_records(int n, int label_bytes, int classes, uint32_t seed, Bytes* labels_out, Bytes* px_out) {
  Bytes out;
  for (int i = 0; i < n; ++i) {
    int label = static_cast<int>((seed * 31 + i * 7) % classes);
    if (label_bytes == 2) out.push_back(static_cast<char>(label / 5));  // coarse
    out.push_back(static_cast<char>(label));
    Bytes px = pixels(3072, seed * 100 + i);
    out += px;
    labels_out->push_back(static_cast<char>(label));
    *px_out += px;
  }
  return out;
}

TEST(Cifar, Cifar10Loads) {
  std::string dir = test::temp_dir("cifar10");
  Bytes train_lab, train_px, test_lab, test_px;
  for (int b = 1; b <= 5; ++b)
    write_raw(dir + "/data_batch_" + std::to_string(b) + ".bin", cifar_records(3, 1, 10, b, &train_lab, &train_px));
  write_raw(dir + "/test_batch.bin", cifar_records(4, 1, 10, 9, &test_lab, &test_px));
  DataSplits d = load_dataset("cifar10", dir);
  EXPECT_EQ(d.num_classes, 10);
  EXPECT_EQ(d.channels, 3);
  EXPECT_EQ(d.image_size, 32);
  EXPECT_EQ(d.crop_padding, 4);
  ASSERT_EQ(d.train.images.sizes(), (std::vector<int64_t>{15, 3, 32, 32}));
  ASSERT_EQ(d.test.images.sizes(), (std::vector<int64_t>{4, 3, 32, 32}));
  EXPECT_TRUE(torch::equal(d.train.labels, labels_of(train_lab)));
  EXPECT_TRUE(torch::equal(d.test.labels, labels_of(test_lab)));
  auto want = expected_images(test_px, 4, 3, 32, {0.4914, 0.4822, 0.4465}, {0.2470, 0.2435, 0.2616});
  EXPECT_TRUE(torch::allclose(d.test.images, want, 1e-5, 1e-5));
  // The archive's subfolder is accepted too; limits apply.
  std::string parent = test::temp_dir("cifar10_parent");
  ASSERT_EQ(std::system(("cp -r '" + dir + "' '" + parent + "/cifar-10-batches-bin'").c_str()), 0);
  DataSplits sub = load_dataset("cifar10", parent, 5, 2);
  EXPECT_EQ(sub.train.size(), 5);
  EXPECT_EQ(sub.test.size(), 2);
  EXPECT_TRUE(torch::equal(sub.train.labels, labels_of(train_lab).slice(0, 0, 5)));
}

TEST(Cifar, Cifar100UsesFineLabel) {
  std::string dir = test::temp_dir("cifar100");
  Bytes train_lab, train_px, test_lab, test_px;
  write_raw(dir + "/train.bin", cifar_records(6, 2, 100, 3, &train_lab, &train_px));
  write_raw(dir + "/test.bin", cifar_records(3, 2, 100, 4, &test_lab, &test_px));
  DataSplits d = load_dataset("cifar100", dir);
  EXPECT_EQ(d.num_classes, 100);
  ASSERT_EQ(d.train.images.sizes(), (std::vector<int64_t>{6, 3, 32, 32}));
  ASSERT_EQ(d.test.images.sizes(), (std::vector<int64_t>{3, 3, 32, 32}));
  EXPECT_TRUE(torch::equal(d.train.labels, labels_of(train_lab)));
  EXPECT_TRUE(torch::equal(d.test.labels, labels_of(test_lab)));
  auto want = expected_images(train_px, 6, 3, 32, {0.5071, 0.4865, 0.4409}, {0.2673, 0.2564, 0.2762});
  EXPECT_TRUE(torch::allclose(d.train.images, want, 1e-5, 1e-5));
  // The raw reader: pixels in CHW order, byte for byte.
  auto [img, lab] = read_cifar_bin(dir + "/test.bin", 2);
  EXPECT_EQ(img.scalar_type(), torch::kUInt8);
  EXPECT_EQ(img[2][1][0][5].item<int64_t>(), static_cast<uint8_t>(test_px[2 * 3072 + 1024 + 5]));
  EXPECT_TRUE(torch::equal(lab, labels_of(test_lab)));
}

TEST(Cifar, WrongSizeThrowsNamingFile) {
  std::string dir = test::temp_dir("cifar_bad");
  Bytes lab, px;
  for (int b = 1; b <= 5; ++b)
    write_raw(dir + "/data_batch_" + std::to_string(b) + ".bin", cifar_records(2, 1, 10, b, &lab, &px));
  Bytes test = cifar_records(2, 1, 10, 7, &lab, &px);
  write_raw(dir + "/test_batch.bin", test.substr(0, test.size() - 10));
  std::string msg = error_of([&] { load_dataset("cifar10", dir); });
  EXPECT_CONTAINS(msg, dir + "/test_batch.bin");
  EXPECT_CONTAINS(msg, "3073");
  // An empty file and a missing batch.
  write_raw(dir + "/test_batch.bin", "");
  EXPECT_CONTAINS(error_of([&] { load_dataset("cifar10", dir); }), dir + "/test_batch.bin");
  write_raw(dir + "/test_batch.bin", test);
  std::remove((dir + "/data_batch_3.bin").c_str());
  EXPECT_CONTAINS(error_of([&] { load_dataset("cifar10", dir); }), "data_batch_3.bin");
  // CIFAR-10 files read as CIFAR-100 (3073 is not a multiple of 3074): refused, naming the file.
  std::string dir100 = test::temp_dir("cifar100_bad");
  write_raw(dir100 + "/train.bin", cifar_records(3, 1, 10, 1, &lab, &px));
  write_raw(dir100 + "/test.bin", cifar_records(3, 2, 100, 1, &lab, &px));
  EXPECT_CONTAINS(error_of([&] { load_dataset("cifar100", dir100); }), dir100 + "/train.bin");
  // A folder without the files.
  EXPECT_CONTAINS(error_of([&] { load_dataset("cifar10", dir + "/none"); }), "test_batch.bin");
  // A label out of range (record 1 says class 10).
  write_raw(dir + "/data_batch_3.bin", test);
  ASSERT_NO_THROW(load_dataset("cifar10", dir));
  Bytes badlab = test;
  badlab[3073] = 10;
  write_raw(dir + "/test_batch.bin", badlab);
  EXPECT_CONTAINS(error_of([&] { load_dataset("cifar10", dir); }), dir + "/test_batch.bin");
}

// --- augment -----------------------------------------------------------------------------

TEST(Augment, DeterministicFlipAndCrop) {
  torch::manual_seed(0);
  auto images = torch::randn({64, 1, 28, 28});
  auto g1 = make_generator(5, 2, 7), g2 = make_generator(5, 2, 7), g3 = make_generator(5, 2, 8);
  auto a = augment(images, true, 0, g1), b = augment(images, true, 0, g2), c = augment(images, true, 0, g3);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, c));
  ASSERT_EQ(a.sizes(), images.sizes());
  // Every image is either unchanged or mirrored left-right, and both happen.
  int flipped = 0, kept = 0;
  for (int64_t i = 0; i < 64; ++i) {
    bool same = torch::equal(a[i], images[i]);
    bool mirrored = torch::equal(a[i], images[i].flip({2}));
    EXPECT_TRUE(same || mirrored) << i;
    flipped += mirrored, kept += same;
  }
  EXPECT_GT(flipped, 5);
  EXPECT_GT(kept, 5);
  // The input is not modified.
  torch::manual_seed(0);
  EXPECT_TRUE(torch::equal(images, torch::randn({64, 1, 28, 28})));

  // Crop with padding 4: same shape, deterministic, each output a shifted window of the
  // (maybe flipped) zero-padded image.
  auto rgb = torch::rand({16, 3, 32, 32}) + 1.0;  // strictly positive, so padding shows as 0
  auto h1 = make_generator(1), h2 = make_generator(1);
  auto x = augment(rgb, true, 4, h1), y = augment(rgb, true, 4, h2);
  ASSERT_EQ(x.sizes(), rgb.sizes());
  EXPECT_TRUE(torch::equal(x, y));
  int shifted = 0;
  for (int64_t i = 0; i < 16; ++i) {
    bool found = false;
    for (auto src : {rgb[i], rgb[i].flip({2})}) {
      auto padded = torch::constant_pad_nd(src, {4, 4, 4, 4}, 0.0);
      for (int dy = 0; dy <= 8 && !found; ++dy)
        for (int dx = 0; dx <= 8 && !found; ++dx)
          if (torch::equal(x[i], padded.slice(1, dy, dy + 32).slice(2, dx, dx + 32))) {
            found = true;
            shifted += (dy != 4 || dx != 4);
          }
      if (found) break;
    }
    EXPECT_TRUE(found) << "image " << i << " is not a crop of the padded image";
  }
  EXPECT_GT(shifted, 0);
}

// --- the real Fashion-MNIST (installed by the README's install step) ---------------------

TEST(FashionMnist, RealDataLoads) {
  const std::string root = "/usr/share/datasets/fashion-mnist";
  ASSERT_TRUE(std::ifstream(root + "/train-images-idx3-ubyte.gz").good())
      << root << " is missing: install the Debian package dataset-fashion-mnist (see README)";
  DataSplits d = load_dataset("fashion-mnist", "");
  ASSERT_EQ(d.train.images.sizes(), (std::vector<int64_t>{60000, 1, 28, 28}));
  ASSERT_EQ(d.test.images.sizes(), (std::vector<int64_t>{10000, 1, 28, 28}));
  EXPECT_EQ(d.train.labels.size(0), 60000);
  EXPECT_EQ(d.test.labels.size(0), 10000);
  EXPECT_NEAR(d.train.images.mean().item<double>(), 0.0, 0.01);
  EXPECT_NEAR(d.train.images.std().item<double>(), 1.0, 0.02);
  EXPECT_NEAR(d.test.images.mean().item<double>(), 0.0, 0.02);
  // Balanced classes: 6000 / 1000 per class.
  auto counts = torch::bincount(d.train.labels);
  EXPECT_EQ(counts.size(0), 10);
  EXPECT_EQ(counts.min().item<int64_t>(), 6000);
  EXPECT_EQ(torch::bincount(d.test.labels).max().item<int64_t>(), 1000);
}

}  // namespace
}  // namespace pdiff::dataset_test
