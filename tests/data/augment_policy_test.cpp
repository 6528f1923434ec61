// Tests of the per-dataset augmentation policy (data.augment) and of BatchSchedule applying
// it: the benchmark's flip-only batches are bit for bit those of the earlier flip-always code.
#include <gtest/gtest.h>

#include "core/error.h"
#include "data/dataset.h"
#include "zoo/batch_schedule.h"

namespace pdiff::augment_policy_test {
namespace {

std::string describe(const std::string& name, const std::string& setting) {
  return resolve_augment(name, setting).description();
}

TEST(AugmentPolicy, AutoPerDataset) {
  EXPECT_EQ(describe("fashion-mnist", "auto"), "flip");
  EXPECT_EQ(describe("mnist", "auto"), "none");
  EXPECT_EQ(describe("cifar10", "auto"), "flip+crop(pad 4)");
  EXPECT_EQ(describe("cifar100", "auto"), "flip+crop(pad 4)");
  EXPECT_EQ(describe("stl10", "auto"), "flip+crop(pad 12)");
  AugmentPolicy p = resolve_augment("stl10", "auto");
  EXPECT_TRUE(p.flip);
  EXPECT_EQ(p.crop_padding, 12);
}

TEST(AugmentPolicy, AliasesAndExplicitValues) {
  for (const std::string name : {"fashion-mnist", "mnist", "cifar10", "cifar100", "stl10"}) {
    EXPECT_EQ(describe(name, "true"), describe(name, "auto")) << name;
    EXPECT_EQ(describe(name, "false"), "none") << name;
    EXPECT_EQ(describe(name, "none"), "none") << name;
    EXPECT_EQ(describe(name, "flip"), "flip") << name;
  }
  EXPECT_EQ(describe("mnist", "crop"), "crop(pad 3)");
  EXPECT_EQ(describe("fashion-mnist", "flip+crop"), "flip+crop(pad 3)");
  EXPECT_EQ(describe("cifar10", "crop"), "crop(pad 4)");
  EXPECT_EQ(describe("stl10", "crop"), "crop(pad 12)");
}

TEST(AugmentPolicy, InvalidValueRefused) {
  for (const std::string bad : {"maybe", "", "Flip", "crop+flip"}) {
    try {
      resolve_augment("cifar10", bad);
      ADD_FAILURE() << "accepted data.augment=" << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("data.augment"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(resolve_augment("imagenet", "auto"), Error);
  // load_dataset refuses it before reading any file.
  try {
    load_dataset("cifar10", "/nonexistent", 0, 0, "sometimes");
    ADD_FAILURE() << "accepted data.augment=sometimes";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("data.augment"), std::string::npos) << e.what();
  }
}

TEST(AugmentPolicy, FlipAndCropSeparately) {
  auto images = torch::rand({16, 3, 12, 12}) + 1.0;  // strictly positive: padding shows as 0
  auto g = make_generator(4);
  EXPECT_TRUE(torch::equal(augment(images, false, 0, g), images));
  // Crop only: every image is a window of its own (unflipped) padded image.
  auto c = augment(images, false, 2, g);
  for (int64_t i = 0; i < 16; ++i) {
    auto padded = torch::constant_pad_nd(images[i], {2, 2, 2, 2}, 0.0);
    bool found = false;
    for (int dy = 0; dy <= 4 && !found; ++dy)
      for (int dx = 0; dx <= 4 && !found; ++dx)
        found = torch::equal(c[i], padded.slice(1, dy, dy + 12).slice(2, dx, dx + 12));
    EXPECT_TRUE(found) << i;
  }
}

DataSplits fake_splits(const std::string& name, const std::string& setting) {
  DataSplits d;
  d.name = name;
  torch::manual_seed(1);
  d.train = {torch::randn({40, 1, 8, 8}), torch::arange(40, torch::kInt64).remainder(10)};
  AugmentPolicy p = resolve_augment(name, setting);
  d.flip = p.flip;
  d.crop_padding = p.crop_padding;
  return d;
}

TEST(BatchSchedule, FlipOnlyIsTheEarlierFlipBitForBit) {
  // The earlier code drew a flip for every image from make_generator(seed, 2, it) and flipped
  // where rand < 0.5; the benchmark (fashion-mnist, auto) must give the same batches.
  DataSplits d = fake_splits("fashion-mnist", "auto");
  BatchSchedule s(d, 16, 7);
  for (int64_t it : {0, 1, 2, 5}) {
    auto [x, y] = s.batch(it);
    auto perm = torch::randperm(40, make_generator(7, 1, it / 2), torch::kInt64).slice(0, (it % 2) * 16, (it % 2 + 1) * 16);
    auto raw = d.train.images.index_select(0, perm);
    auto gen = make_generator(7, 2, static_cast<uint64_t>(it));
    auto flip = torch::rand({16}, gen, torch::TensorOptions().dtype(torch::kFloat32)).lt(0.5);
    auto want = torch::where(flip.view({16, 1, 1, 1}), raw.flip({3}), raw);
    EXPECT_TRUE(torch::equal(x, want)) << it;
    EXPECT_TRUE(torch::equal(y, d.train.labels.index_select(0, perm))) << it;
  }
}

TEST(BatchSchedule, FollowsThePolicy) {
  // mnist (auto = none): the images as stored, in the epoch's order.
  DataSplits none = fake_splits("mnist", "auto");
  BatchSchedule s(none, 8, 3);
  auto [x, y] = s.batch(1);
  auto perm = torch::randperm(40, make_generator(3, 1, 0), torch::kInt64).slice(0, 8, 16);
  EXPECT_TRUE(torch::equal(x, none.train.images.index_select(0, perm)));
  // flip+crop: deterministic per (seed, iteration), padding visible, same draws on a re-run.
  DataSplits both = fake_splits("mnist", "flip+crop");
  BatchSchedule a(both, 8, 3), b(both, 8, 3);
  auto xa = a.batch(4).first, xb = b.batch(4).first;
  EXPECT_TRUE(torch::equal(xa, xb));
  EXPECT_FALSE(torch::equal(xa, a.batch(5).first));
  EXPECT_TRUE(torch::equal(a.batch(4).first, xa));  // regenerated after another iteration
  EXPECT_GT(xa.eq(0).sum().item<int64_t>(), 0);     // zero padding shifted in somewhere
}

TEST(BatchSchedule, ZooStreamsDoNotReplayBaseTraining) {
  // Base training reads stream 0 (the seed itself); the zoo reads streams 1, 2, ...: other
  // orders and other flips, so a zoo does not retrace base training's first batches.
  DataSplits d = fake_splits("fashion-mnist", "auto");
  EXPECT_EQ(data_stream_seed(7, 0), 7u);
  BatchSchedule base(d, 16, data_stream_seed(7, 0)), zoo(d, 16, data_stream_seed(7, 1)),
      run0(d, 16, data_stream_seed(7, 2)), other_seed(d, 16, data_stream_seed(8, 0));
  auto b = base.batch(0);
  EXPECT_TRUE(torch::equal(b.first, BatchSchedule(d, 16, 7).batch(0).first));
  EXPECT_FALSE(torch::equal(b.second, zoo.batch(0).second));
  EXPECT_FALSE(torch::equal(zoo.batch(0).second, run0.batch(0).second));
  EXPECT_FALSE(torch::equal(b.second, other_seed.batch(0).second));
  EXPECT_NE(data_stream_seed(7, 1), data_stream_seed(8, 0));
}

}  // namespace
}  // namespace pdiff::augment_policy_test
