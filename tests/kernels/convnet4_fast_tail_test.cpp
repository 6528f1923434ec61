#include <gtest/gtest.h>

#include "kernels/conv3x3_small.h"
#include "models/convnet4.h"

namespace pdiff::convnet4_fast_tail_test {
namespace {

TEST(ConvNet4FastTail, Conv3x3On3x3MatchesConv2d) {
  auto x = torch::randn({5, 16, 3, 3});
  auto w = torch::randn({24, 16, 3, 3});
  auto expected = torch::conv2d(x, w, {}, 1, 1);
  EXPECT_TRUE(torch::allclose(conv3x3_on_3x3(x, w), expected, 1e-4, 1e-4));
  auto x_cl = x.contiguous(torch::MemoryFormat::ChannelsLast);
  EXPECT_TRUE(torch::allclose(conv3x3_on_3x3(x_cl, w), expected, 1e-4, 1e-4));
}

TEST(ConvNet4FastTail, WinogradMatchesConv2dInDoublePrecision) {
  auto x = torch::relu(torch::randn({200, 64, 3, 3}));
  auto w = torch::randn({32, 64, 3, 3}) * 0.1;
  auto exact = torch::conv2d(x.to(torch::kFloat64), w.to(torch::kFloat64), {}, 1, 1);
  auto positions = x.permute({2, 3, 0, 1}).reshape({9, 200, 64});
  auto y = conv3x3_on_3x3_winograd(positions, winograd_weight(w)).view({3, 3, 200, 32}).permute({2, 3, 0, 1});
  const double scale = exact.abs().max().item<double>();
  EXPECT_LT((y.to(torch::kFloat64) - exact).abs().max().item<double>() / scale, 2e-5);
  auto direct = conv3x3_on_3x3(x, w).to(torch::kFloat64);
  EXPECT_LT((direct - exact).abs().max().item<double>() / scale, 2e-6);
}

std::shared_ptr<ConvNet4Impl> random_eval_model() {
  ClassifierSpec spec;
  spec.arch = "convnet4";
  auto model = std::dynamic_pointer_cast<ConvNet4Impl>(make_classifier(spec));
  torch::NoGradGuard ng;
  for (auto& p : model->named_parameters())
    if (p.key().rfind("bn3.", 0) == 0) p.value().normal_(0, 1);  // about half negative
  for (auto& b : model->named_buffers())
    if (b.key().find("running_var") != std::string::npos) b.value().uniform_(0.5, 2);
  model->eval();
  return model;
}

TEST(ConvNet4FastTail, CloseCallsAreRedoneAndOnlyThose) {
  auto logits = torch::tensor({{1.0f, 0.995f, 0.0f},    // close: 0.005
                               {0.0f, 2.0f, 0.5f},      // clear
                               {-3.0f, 0.0f, -0.001f},  // close: 0.001
                               {0.3f, 0.3f, 0.3f}});    // a tie
  torch::Tensor asked;
  redo_close_calls(logits, 0.01, [&](const torch::Tensor& rows) {
    asked = rows;
    return torch::full({rows.size(0), 3}, 7.0f);
  });
  EXPECT_TRUE(torch::equal(asked, torch::tensor({0, 2, 3}, torch::kInt64)));
  EXPECT_EQ(logits[1][1].item<float>(), 2.0f);
  EXPECT_EQ(logits[0][0].item<float>(), 7.0f);
  EXPECT_EQ(logits[3][2].item<float>(), 7.0f);
  redo_close_calls(logits.slice(0, 1, 2), 0.01, [&](const torch::Tensor&) -> torch::Tensor {
    ADD_FAILURE() << "nothing is close";
    return {};
  });
}

TEST(ConvNet4FastTail, SameLogitsAsTheStagesWithNegativeBnWeights) {
  auto model = random_eval_model();
  torch::NoGradGuard ng;
  auto x = model->prepare_input(torch::randn({7, 1, 28, 28}));
  auto h = model->forward_range(x, 0, 5);
  auto expected = model->forward_range(h, 5, model->num_stages());
  ASSERT_TRUE(model->prepare_fast_tail(5, {"bn3.weight", "bn3.bias", "bn4.weight", "bn4.bias"}));
  auto fast = model->fast_tail_forward(5, model->fast_tail_cache(5, h));
  EXPECT_TRUE(torch::allclose(fast, expected, 1e-4, 1e-4));
  EXPECT_TRUE(torch::equal(fast.argmax(1), expected.argmax(1)));

  // A new conv4 weight (a selection that includes conv4) is picked up, not a stale layout.
  for (auto& p : model->named_parameters())
    if (p.key() == "conv4.weight") p.value().mul_(-0.5);
  auto expected2 = model->forward_range(h, 5, model->num_stages());
  EXPECT_FALSE(torch::allclose(expected2, expected, 1e-3, 1e-3));
  EXPECT_TRUE(torch::allclose(model->fast_tail_forward(5, model->fast_tail_cache(5, h)), expected2, 1e-4, 1e-4));
}

}  // namespace
}  // namespace pdiff::convnet4_fast_tail_test
