#include <gtest/gtest.h>

#include "models/convnet4.h"

namespace pdiff {
namespace {

TEST(ConvNet4FastTail, Conv3x3On3x3MatchesConv2d) {
  auto x = torch::randn({5, 16, 3, 3});
  auto w = torch::randn({24, 16, 3, 3});
  auto expected = torch::conv2d(x, w, {}, 1, 1);
  EXPECT_TRUE(torch::allclose(conv3x3_on_3x3(x, w), expected, 1e-4, 1e-4));
  auto x_cl = x.contiguous(torch::MemoryFormat::ChannelsLast);
  EXPECT_TRUE(torch::allclose(conv3x3_on_3x3(x_cl, w), expected, 1e-4, 1e-4));
}

TEST(ConvNet4FastTail, SameLogitsAsTheStagesWithNegativeBnWeights) {
  ClassifierSpec spec;
  spec.arch = "convnet4";
  auto model = std::dynamic_pointer_cast<ConvNet4Impl>(make_classifier(spec));
  ASSERT_TRUE(model);
  {
    torch::NoGradGuard ng;
    for (auto& p : model->named_parameters())
      if (p.key().rfind("bn3.", 0) == 0) p.value().normal_(0, 1);  // about half negative
    for (auto& b : model->named_buffers())
      if (b.key().find("running_var") != std::string::npos) b.value().uniform_(0.5, 2);
  }
  model->eval();
  torch::NoGradGuard ng;
  auto x = model->prepare_input(torch::randn({7, 1, 28, 28}));
  auto h = model->forward_range(x, 0, 5);
  auto expected = model->forward_range(h, 5, model->num_stages());
  ASSERT_TRUE(model->has_fast_tail(5));
  auto fast = model->fast_tail_forward(5, model->fast_tail_cache(5, h));
  EXPECT_TRUE(torch::allclose(fast, expected, 1e-4, 1e-4));
  EXPECT_TRUE(torch::equal(fast.argmax(1), expected.argmax(1)));
}

}  // namespace
}  // namespace pdiff
