// Tests of the MLP, ResNet-18/50, ViT-Tiny and ConvNeXt-Tiny classifiers: output shapes,
// split forward == full forward (the tail evaluator relies on it), PyTorch state-dict names,
// norm-layer order, stage lookup and parameter counts against torchvision/timm.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/error.h"
#include "models/classifier.h"
#include "test_util.h"

namespace pdiff::classifiers_test {
namespace {

ClassifierSpec spec_for(const std::string& arch) {
  ClassifierSpec s;
  s.arch = arch;
  s.num_classes = 10;
  if (arch == "mlp") {
    s.in_channels = 1;
    s.image_size = 28;
  } else {
    s.in_channels = 3;
    s.image_size = 32;
  }
  return s;
}

Classifier build(const std::string& arch) {
  torch::manual_seed(0);
  auto model = make_classifier(spec_for(arch));
  model->eval();
  return model;
}

torch::Tensor images(const Classifier& model, const ClassifierSpec& s, int64_t batch) {
  return model->prepare_input(torch::randn({batch, s.in_channels, s.image_size, s.image_size}));
}

int64_t count_params(const Classifier& model) {
  int64_t n = 0;
  for (const auto& p : model->parameters()) n += p.numel();
  return n;
}

bool has_name(const Classifier& model, const std::string& name) {
  for (const auto& [key, value] : state_dict(model))
    if (key == name) return true;
  return false;
}

std::vector<std::string> last_two_norms(const Classifier& model) {
  auto norms = model->norm_layers();
  if (norms.size() < 2) return norms;
  return {norms[norms.size() - 2], norms.back()};
}

// Runs [0, s) then [s, end) for each split s and compares with forward().
void expect_split_matches(const std::string& arch, int64_t batch, std::vector<int64_t> splits) {
  auto model = build(arch);
  torch::NoGradGuard no_grad;
  auto x = images(model, spec_for(arch), batch);
  auto full = model->forward(x);
  ASSERT_EQ(full.sizes(), (std::vector<int64_t>{batch, 10})) << arch;
  EXPECT_TRUE(torch::isfinite(full).all().item<bool>()) << arch;
  const int64_t n = model->num_stages();
  splits.push_back(1);
  splits.push_back(n - 1);
  for (int64_t s : splits) {
    ASSERT_GT(s, 0);
    ASSERT_LT(s, n);
    auto mid = model->forward_range(x, 0, s);
    auto out = model->forward_range(mid, s, n);
    EXPECT_LT(test::max_relative_difference(out, full), test::kSummationOrderTolerance)
        << arch << " split at stage " << s;
  }
}

// Every parameter belongs to a stage, stages come in registration (forward) order, and every
// name a stage lists matches some parameter.
void expect_stages_cover_params(const std::string& arch) {
  auto model = build(arch);
  int64_t prev = 0;
  std::vector<bool> used(model->num_stages(), false);
  for (const auto& p : model->named_parameters()) {
    int64_t stage = model->first_stage_using({p.key()});
    EXPECT_GE(stage, prev) << arch << ": " << p.key() << " out of forward order";
    prev = stage;
    used[stage] = true;
  }
  for (int64_t i = 0; i < model->num_stages(); ++i) {
    EXPECT_TRUE(used[i]) << arch << ": stage " << i << " owns no parameter";
    for (const auto& name : model->stage_params(i)) {
      bool found = false;
      for (const auto& p : model->named_parameters())
        found = found || (name.back() == '.' ? p.key().rfind(name, 0) == 0 : p.key() == name);
      EXPECT_TRUE(found) << arch << ": stage " << i << " lists unknown '" << name << "'";
    }
  }
}

// A training step reaches every parameter (nothing registered but left out of forward).
void expect_all_params_get_grads(const std::string& arch) {
  auto model = build(arch);
  model->train();
  auto s = spec_for(arch);
  auto loss = torch::cross_entropy_loss(model->forward(images(model, s, 2)),
                                        torch::tensor({1, 7}, torch::kLong));
  loss.backward();
  for (const auto& p : model->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << arch << ": " << p.key() << " got no gradient";
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << arch << ": " << p.key();
  }
}

TEST(Classifiers, EveryParameterGetsAGradient) {
  for (const char* arch : {"mlp", "resnet18", "vit_tiny", "convnext_tiny"})
    expect_all_params_get_grads(arch);
}

TEST(Mlp, ShapesSplitsAndNames) {
  expect_split_matches("mlp", 4, {});
  auto model = build("mlp");
  EXPECT_EQ(model->num_stages(), 2);
  EXPECT_TRUE(has_name(model, "fc1.weight"));
  EXPECT_TRUE(has_name(model, "fc2.bias"));
  EXPECT_EQ(model->first_stage_using({"fc2.weight"}), 1);
  EXPECT_EQ(count_params(model), 784 * 128 + 128 + 128 * 10 + 10);  // 101,770
  EXPECT_TRUE(model->norm_layers().empty());
  expect_stages_cover_params("mlp");
}

TEST(Mlp, HiddenWidthsFromSpec) {
  auto s = spec_for("mlp");
  s.mlp_hidden = {64, 32};
  auto model = make_classifier(s);
  EXPECT_EQ(model->num_stages(), 3);
  EXPECT_TRUE(has_name(model, "fc3.weight"));
  EXPECT_EQ(model->forward(torch::randn({2, 1, 28, 28})).sizes(), (std::vector<int64_t>{2, 10}));
}

TEST(ResNet18, ShapesAndSplits) { expect_split_matches("resnet18", 2, {3, 5, 8}); }

TEST(ResNet18, TorchvisionNamesAndCounts) {
  auto model = build("resnet18");
  EXPECT_EQ(model->num_stages(), 1 + 8 + 1);
  for (const char* name : {"conv1.weight", "bn1.running_var", "layer1.0.conv1.weight",
                           "layer1.0.bn1.weight", "layer2.0.downsample.0.weight",
                           "layer4.1.bn2.weight", "fc.weight", "fc.bias"})
    EXPECT_TRUE(has_name(model, name)) << name;
  EXPECT_TRUE(has_name(model, "layer2.0.downsample.1.running_mean"));
  EXPECT_FALSE(has_name(model, "layer1.0.downsample.0.weight"));  // 64 -> 64, stride 1
  EXPECT_FALSE(has_name(model, "layer2.1.downsample.0.weight"));
  EXPECT_FALSE(has_name(model, "conv1.bias"));
  EXPECT_EQ(last_two_norms(model), (std::vector<std::string>{"layer4.1.bn1", "layer4.1.bn2"}));
  EXPECT_EQ(model->norm_layers().front(), "bn1");
  EXPECT_EQ(model->first_stage_using({"layer4.1.bn1.weight"}), 8);
  EXPECT_EQ(model->first_stage_using({"fc.weight", "layer1.0.conv1.weight"}), 1);
  EXPECT_EQ(model->first_stage_using({"bn1.weight"}), 0);
  EXPECT_EQ(count_params(model), 11173962);  // torchvision resnet18, CIFAR stem, 10 classes
  EXPECT_TRUE(model->channels_last());
  expect_stages_cover_params("resnet18");
}

TEST(ResNet50, ShapesAndSplits) { expect_split_matches("resnet50", 2, {4, 12}); }

TEST(ResNet50, TorchvisionNamesAndCounts) {
  auto model = build("resnet50");
  EXPECT_EQ(model->num_stages(), 1 + 16 + 1);
  for (const char* name : {"layer1.0.downsample.1.running_mean", "layer1.0.conv3.weight",
                           "layer3.5.bn3.weight", "layer4.2.bn3.weight", "fc.weight"})
    EXPECT_TRUE(has_name(model, name)) << name;
  EXPECT_FALSE(has_name(model, "layer1.1.downsample.0.weight"));
  EXPECT_EQ(last_two_norms(model), (std::vector<std::string>{"layer4.2.bn2", "layer4.2.bn3"}));
  EXPECT_EQ(model->first_stage_using({"layer4.2.bn3.weight"}), 16);
  EXPECT_EQ(model->first_stage_using({"layer4.0.downsample.1.weight"}), 14);
  EXPECT_EQ(count_params(model), 23520842);  // torchvision resnet50, CIFAR stem, 10 classes
  expect_stages_cover_params("resnet50");
}

TEST(Vit, ShapesAndSplits) { expect_split_matches("vit_tiny", 2, {4, 7, 12, 24, 25}); }

TEST(Vit, TimmNamesAndCounts) {
  auto model = build("vit_tiny");
  EXPECT_EQ(model->num_stages(), 1 + 2 * 12 + 1);
  for (const char* name :
       {"patch_embed.proj.weight", "patch_embed.proj.bias", "cls_token", "pos_embed",
        "blocks.0.norm1.weight", "blocks.0.attn.qkv.weight", "blocks.0.attn.proj.bias",
        "blocks.11.mlp.fc1.weight", "blocks.11.mlp.fc2.bias", "blocks.11.norm2.weight",
        "norm.weight", "norm.bias", "head.weight"})
    EXPECT_TRUE(has_name(model, name)) << name;
  auto sd = state_dict(model);
  auto pos = std::find_if(sd.begin(), sd.end(), [](auto& kv) { return kv.first == "pos_embed"; });
  ASSERT_NE(pos, sd.end());
  EXPECT_EQ(pos->second.sizes(), (std::vector<int64_t>{1, 1 + 8 * 8, 192}));
  EXPECT_EQ(last_two_norms(model), (std::vector<std::string>{"blocks.11.norm2", "norm"}));
  EXPECT_EQ(model->norm_layers().size(), 2u * 12 + 1);
  EXPECT_EQ(model->first_stage_using({"cls_token"}), 0);
  EXPECT_EQ(model->first_stage_using({"pos_embed"}), 0);
  // Two stages per block: the attention half and the MLP half.
  EXPECT_EQ(model->first_stage_using({"blocks.1.attn.qkv.weight"}), 3);
  EXPECT_EQ(model->first_stage_using({"blocks.1.norm2.weight"}), 4);
  EXPECT_EQ(model->first_stage_using({"blocks.11.norm2.weight"}), 24);
  EXPECT_EQ(model->first_stage_using({"head.bias"}), 25);
  // timm VisionTransformer(img_size=32, patch_size=4, embed_dim=192, depth=12, num_heads=3,
  // num_classes=10): 9,408 patch + 192 cls + 12,480 pos + 12 x 444,864 + 384 + 1,930.
  EXPECT_EQ(count_params(model), 5362762);
  expect_stages_cover_params("vit_tiny");
}

TEST(Vit, AcceptsMnistSizeAndRejectsOthers) {
  auto s = spec_for("vit_tiny");
  s.in_channels = 1;
  s.image_size = 28;
  auto model = make_classifier(s);
  model->eval();
  torch::NoGradGuard no_grad;
  EXPECT_EQ(model->forward(torch::randn({2, 1, 28, 28})).sizes(), (std::vector<int64_t>{2, 10}));
  s.image_size = 30;
  EXPECT_THROW(make_classifier(s), Error);
}

TEST(ConvNext, ShapesAndSplits) { expect_split_matches("convnext_tiny", 2, {3, 4, 7, 16}); }

TEST(ConvNext, TimmNamesAndCounts) {
  auto model = build("convnext_tiny");
  EXPECT_EQ(model->num_stages(), 1 + 18 + 1);
  for (const char* name :
       {"stem.0.weight", "stem.1.weight", "stem.1.bias", "stages.0.blocks.0.conv_dw.weight",
        "stages.0.blocks.2.gamma", "stages.1.downsample.0.weight", "stages.1.downsample.1.bias",
        "stages.2.blocks.8.mlp.fc2.weight", "stages.3.blocks.2.norm.weight", "head.norm.weight",
        "head.norm.bias", "head.fc.weight"})
    EXPECT_TRUE(has_name(model, name)) << name;
  EXPECT_FALSE(has_name(model, "stages.0.downsample.0.weight"));
  EXPECT_EQ(last_two_norms(model),
            (std::vector<std::string>{"stages.3.blocks.2.norm", "head.norm"}));
  auto norms = model->norm_layers();
  EXPECT_EQ(norms.front(), "stem.1");  // LayerNorm2d counts as a norm layer
  EXPECT_NE(std::find(norms.begin(), norms.end(), "stages.2.downsample.0"), norms.end());
  EXPECT_EQ(model->first_stage_using({"stages.1.downsample.1.weight"}), 4);
  EXPECT_EQ(model->first_stage_using({"stages.1.blocks.0.gamma"}), 4);
  EXPECT_EQ(model->first_stage_using({"stages.1.blocks.1.gamma"}), 5);
  EXPECT_EQ(model->first_stage_using({"head.norm.weight"}), 19);
  // timm convnext_tiny (28,589,128) with a 2x2 stem and a 10-class head.
  EXPECT_EQ(count_params(model), 27824362);
  expect_stages_cover_params("convnext_tiny");
}

}  // namespace
}  // namespace pdiff::classifiers_test
