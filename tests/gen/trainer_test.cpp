#include "gen/trainer.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "test_util.h"

namespace pdiff::trainer_test {
namespace {

struct Fixture {
  torch::nn::Linear net{4, 1};
  torch::Tensor x = torch::randn({32, 4}), y = torch::randn({32, 1});
  TrainLoop loop(const std::string& dir, int64_t nan_at = -1) {
    TrainLoop l;
    l.name = "toy";
    l.steps = 300;
    l.lr = 1e-2;
    l.partial_path = dir + "/toy.partial.pt";
    l.csv_path = dir + "/toy_loss.csv";
    l.fingerprint = "f";
    l.batch = 32;
    l.loss = [this, nan_at](int64_t step, const Share&) {
      auto loss = torch::mse_loss(net(x), y);
      return step == nan_at ? loss * std::numeric_limits<float>::quiet_NaN() : loss;
    };
    return l;
  }
};

TEST(Trainer, NonFiniteLossStopsNamingTheStepAndKeepsTheLastGoodState) {
  std::string dir = test::temp_dir("trainer_nan");
  torch::manual_seed(0);
  Fixture f;
  try {
    run_training(*f.net, f.loop(dir, 150));
    FAIL() << "a NaN loss did not stop training";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("toy training: the loss became nan at step 151 of 300"), std::string::npos) << msg;
    EXPECT_NE(msg.find("toy.lr"), std::string::npos) << msg;
  }
  // The partial file of step 100 (the last good one) is kept and resumes.
  ASSERT_TRUE(file_exists(dir + "/toy.partial.pt"));
  DictFile partial = DictFile::load(dir + "/toy.partial.pt", "pdiff.train_partial", 1, "");
  EXPECT_EQ(partial.integer("step"), 100);
  auto losses = run_training(*f.net, f.loop(dir));
  EXPECT_TRUE(torch::isfinite(losses).all().item<bool>());
  EXPECT_FALSE(file_exists(dir + "/toy.partial.pt"));
  EXPECT_TRUE(file_exists(dir + "/toy_loss.csv"));
}

TEST(Trainer, ResumedRunEqualsUninterruptedRun) {
  std::string a = test::temp_dir("trainer_a"), b = test::temp_dir("trainer_b");
  torch::manual_seed(1);
  Fixture fa;
  Fixture fb;
  {
    torch::NoGradGuard ng;
    fb.x.copy_(fa.x);
    fb.y.copy_(fa.y);
    fb.net->weight.copy_(fa.net->weight);
    fb.net->bias.copy_(fa.net->bias);
  }
  auto full = run_training(*fa.net, fa.loop(a));
  EXPECT_THROW(run_training(*fb.net, fb.loop(b, 250)), Error);  // stops after saving step 200
  auto resumed = run_training(*fb.net, fb.loop(b));
  EXPECT_TRUE(torch::equal(full, resumed));
  EXPECT_TRUE(torch::equal(fa.net->weight, fb.net->weight));
}

}  // namespace
}  // namespace pdiff::trainer_test
