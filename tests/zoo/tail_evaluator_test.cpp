// Tests of the tail-only evaluator: with the frozen prefix cached (full_forward = false) it
// must give exactly the predictions and accuracies of full forward passes, and both must
// agree with an independent reference (assign the vector, eval-mode forward of the model).
#include <gtest/gtest.h>

#include <map>

#include "core/error.h"
#include "kernels/dispatch.h"
#include "models/classifier.h"
#include "zoo/layout.h"
#include "zoo/tail_evaluator.h"

namespace pdiff::tail_evaluator_test {
namespace {

// A model with non-trivial BN running statistics: a few train-mode forwards on shifted,
// scaled inputs.
Classifier model_with_stats(const ClassifierSpec& spec, uint64_t seed, int64_t batch) {
  torch::manual_seed(seed);
  Classifier m = make_classifier(spec);
  m->train();
  torch::NoGradGuard ng;
  for (int i = 0; i < 3; ++i)
    m->forward(m->prepare_input(torch::randn({batch, spec.in_channels, spec.image_size, spec.image_size}) * 1.7 + 0.4));
  m->eval();
  return m;
}

Dataset random_test_set(const ClassifierSpec& spec, int64_t n, uint64_t seed) {
  torch::manual_seed(seed);
  return {torch::randn({n, spec.in_channels, spec.image_size, spec.image_size}),
          torch::randint(0, spec.num_classes, {n}, torch::kInt64)};
}

// Predictions of an independent path: assign the vector to a clone and run forward().
torch::Tensor reference_predictions(const Classifier& model, const ClassifierSpec& spec, const ParamLayout& layout,
                                    const torch::Tensor& vec, const Dataset& test) {
  Classifier m = clone_classifier(model, spec);
  m->eval();
  layout.assign(m, vec);
  torch::NoGradGuard ng;
  return m->forward(m->prepare_input(test.images)).argmax(1).to(torch::kUInt8);
}

// Vectors around the model's own values: itself, small and large perturbations, and one
// with the last norm's weight negated (which must change predictions).
torch::Tensor vectors_around(const Classifier& model, const ParamLayout& layout, uint64_t seed) {
  torch::manual_seed(seed);
  auto base = layout.flatten(model);
  auto neg = base.clone();
  const auto& last = layout.entries()[layout.entries().size() - 2];  // "<last norm>.weight"
  neg.slice(0, last.offset, last.offset + last.numel).mul_(-1.0);
  return torch::stack({base, base + 0.01 * torch::randn_like(base), base + 0.1 * torch::randn_like(base),
                       base + 0.5 * torch::randn_like(base), neg});
}

void check_same(const EvalResult& a, const EvalResult& b, const std::string& what) {
  ASSERT_EQ(a.predictions.sizes(), b.predictions.sizes()) << what;
  EXPECT_TRUE(torch::equal(a.predictions, b.predictions))
      << what << ": " << a.predictions.ne(b.predictions).sum().item<int64_t>() << " predictions differ";
  EXPECT_TRUE(torch::equal(a.accuracy, b.accuracy)) << what << ": " << a.accuracy << " vs " << b.accuracy;
}

TEST(TailEvaluator, ConvNet4CachedEqualsFullForward) {
  ClassifierSpec spec;
  spec.arch = "convnet4";
  Classifier model = model_with_stats(spec, 3, 64);
  // The running statistics really are not the initial ones.
  auto rv = model->named_buffers()["bn3.running_var"];
  EXPECT_GT((rv - 1.0).abs().max().item<double>(), 0.05);

  ParamLayout layout = ParamLayout::of(model, select_parameters(model, "last_norm:2"));
  ASSERT_EQ(layout.dim(), 768);
  Dataset test = random_test_set(spec, 300, 11);
  torch::Tensor params = vectors_around(model, layout, 4);
  const int64_t m = params.size(0);

  // The default chunk (500) holds all 300 images, cached in slices of 100; chunk 128 splits
  // them into 128 + 128 + 44.
  TailEvaluator cached(clone_classifier(model, spec), layout, test, /*full_forward=*/false);
  TailEvaluator full(clone_classifier(model, spec), layout, test, /*full_forward=*/true);
  TailEvaluator chunked(clone_classifier(model, spec), layout, test, false, /*chunk=*/128);
  EXPECT_EQ(cached.tail_start(), 5);  // the stage of bn3
  EXPECT_EQ(full.tail_start(), 0);

  EvalResult a = cached.evaluate(params), b = full.evaluate(params), c = chunked.evaluate(params);
  ASSERT_EQ(a.predictions.sizes(), (std::vector<int64_t>{m, 300}));
  EXPECT_EQ(a.predictions.scalar_type(), torch::kUInt8);
  ASSERT_EQ(a.accuracy.sizes(), (std::vector<int64_t>{m}));
  EXPECT_EQ(a.accuracy.scalar_type(), torch::kFloat64);
  check_same(a, b, "cached vs full");
  check_same(a, c, "default chunk (500) vs chunk 128");

  // Against the independent reference, and accuracy = percent of correct predictions.
  for (int64_t i = 0; i < m; ++i) {
    auto ref = reference_predictions(model, spec, layout, params[i], test);
    EXPECT_TRUE(torch::equal(a.predictions[i], ref)) << "vector " << i;
    double acc = 100.0 * ref.to(torch::kInt64).eq(test.labels).sum().item<int64_t>() / 300.0;
    EXPECT_DOUBLE_EQ(a.accuracy[i].item<double>(), acc) << "vector " << i;
  }
  // The vectors matter: negating bn4.weight changes predictions.
  EXPECT_FALSE(torch::equal(a.predictions[0], a.predictions[m - 1]));
  // Evaluating again (after the model was overwritten by the last vector) gives the same.
  check_same(cached.evaluate(params.slice(0, 0, 2)), full.evaluate(params.slice(0, 0, 2)), "re-evaluate");
  EXPECT_TRUE(torch::equal(cached.evaluate(params.slice(0, 1, 2)).predictions[0], a.predictions[1]));
  // Wrong shapes are refused.
  EXPECT_THROW(cached.evaluate(params[0]), Error);
  EXPECT_THROW(cached.evaluate(torch::zeros({2, 767})), Error);
}

TEST(TailEvaluator, ConvNet4DefaultChunksOverALargerTestSet) {
  // 1130 images with the default chunk of 500: chunks of 500, 500 and 130 (the last cached in
  // slices of 100 and 30), the path `pdiff eval` takes on a real test set.
  ClassifierSpec spec;
  spec.arch = "convnet4";
  Classifier model = model_with_stats(spec, 9, 64);
  ParamLayout layout = ParamLayout::of(model, select_parameters(model, "last_norm:2"));
  Dataset test = random_test_set(spec, 1130, 14);
  torch::Tensor params = vectors_around(model, layout, 10).slice(0, 2, 5);  // large changes and a negation
  TailEvaluator cached(clone_classifier(model, spec), layout, test);
  TailEvaluator full(clone_classifier(model, spec), layout, test, /*full_forward=*/true, /*chunk=*/1130);
  EvalResult a = cached.evaluate(params);
  ASSERT_EQ(a.predictions.sizes(), (std::vector<int64_t>{3, 1130}));
  check_same(a, full.evaluate(params), "default chunks vs one chunk, full forward");
  for (int64_t i = 0; i < params.size(0); ++i)
    EXPECT_TRUE(torch::equal(a.predictions[i], reference_predictions(model, spec, layout, params[i], test)))
        << "vector " << i;
  EXPECT_FALSE(torch::equal(a.predictions[0], a.predictions[2]));
}

TEST(TailEvaluator, ConvNet4PatternSelection) {
  // A selection whose first tensor sits later (fc only): the tail is the last stage.
  ClassifierSpec spec;
  spec.arch = "convnet4";
  Classifier model = model_with_stats(spec, 5, 32);
  ParamLayout layout = ParamLayout::of(model, select_parameters(model, "fc.*,bn4"));
  Dataset test = random_test_set(spec, 100, 12);
  torch::Tensor params = vectors_around(model, layout, 6);
  TailEvaluator cached(clone_classifier(model, spec), layout, test, false);
  TailEvaluator full(clone_classifier(model, spec), layout, test, true);
  EXPECT_EQ(cached.tail_start(), 7);  // bn4
  check_same(cached.evaluate(params), full.evaluate(params), "bn4+fc");
}

TEST(TailEvaluator, ResNet18LastTwoNorms) {
  ClassifierSpec spec;
  spec.arch = "resnet18";
  spec.in_channels = 3;
  spec.image_size = 32;
  spec.num_classes = 10;
  Classifier model = model_with_stats(spec, 7, 8);
  auto names = select_parameters(model, "last_norm:2");
  EXPECT_EQ(names, (std::vector<std::string>{"layer4.1.bn1.weight", "layer4.1.bn1.bias", "layer4.1.bn2.weight",
                                             "layer4.1.bn2.bias"}));
  ParamLayout layout = ParamLayout::of(model, names);
  ASSERT_EQ(layout.dim(), 2048);
  Dataset test = random_test_set(spec, 12, 13);
  torch::Tensor params = vectors_around(model, layout, 8).slice(0, 2, 5);  // 3 vectors
  TailEvaluator cached(clone_classifier(model, spec), layout, test, false, /*chunk=*/5);
  TailEvaluator full(clone_classifier(model, spec), layout, test, true);
  EXPECT_EQ(cached.tail_start(), 8);  // block layer4.1 (stem, 8 blocks, head)
  EvalResult a = cached.evaluate(params), b = full.evaluate(params);
  check_same(a, b, "resnet18");
  for (int64_t i = 0; i < params.size(0); ++i)
    EXPECT_TRUE(torch::equal(a.predictions[i], reference_predictions(model, spec, layout, params[i], test)))
        << "vector " << i;
}

// Every architecture, with selections that take the model's fast tail and ones that must not.
struct TailCase {
  std::string arch;
  int64_t channels, size;
  std::string selection;
  int64_t start;  // expected first tail stage
  bool fast;      // expected use of the model's own faster tail
  int64_t first_vector = 2;  // of vectors_around: 2 = large changes and a negation; 0 = small ones
};

void PrintTo(const TailCase& c, std::ostream* os) { *os << c.arch << " " << c.channels << "x" << c.size << " " << c.selection; }

// A case's model (with running statistics), selection, 12 test images (chunks of 5, 5 and 2)
// and three vectors. Cases of one architecture and input share its model: it is only read
// (every evaluator and reference works on a clone), and a ConvNeXt takes seconds to make.
class TailEveryArch : public ::testing::TestWithParam<TailCase> {
 protected:
  void SetUp() override {
    const TailCase& c = GetParam();
    spec.arch = c.arch;
    spec.in_channels = c.channels;
    spec.image_size = c.size;
    static std::map<std::string, Classifier> models;
    const std::string key = c.arch + " " + std::to_string(c.channels) + "x" + std::to_string(c.size);
    if (models.count(key) == 0) models.emplace(key, model_with_stats(spec, 21, 8));
    model = models.at(key);
    layout = ParamLayout::of(model, select_parameters(model, c.selection));
    test = random_test_set(spec, 12, 22);
    params = vectors_around(model, layout, 23).slice(0, c.first_vector, c.first_vector + 3);
  }
  ClassifierSpec spec;
  Classifier model;
  ParamLayout layout;
  Dataset test;
  torch::Tensor params;
};

TEST_P(TailEveryArch, CachedEqualsFullForwardAndReference) {
  const TailCase& c = GetParam();
  TailEvaluator cached(clone_classifier(model, spec), layout, test, false, /*chunk=*/5);
  TailEvaluator full(clone_classifier(model, spec), layout, test, true);
  EXPECT_EQ(cached.tail_start(), c.start);
  EXPECT_EQ(cached.uses_fast_tail(), c.fast);
  EvalResult a = cached.evaluate(params), b = full.evaluate(params);
  check_same(a, b, c.arch + " " + c.selection);
  for (int64_t i = 0; i < params.size(0); ++i)
    EXPECT_TRUE(torch::equal(a.predictions[i], reference_predictions(model, spec, layout, params[i], test)))
        << "vector " << i;
  // The vectors matter: they do not all give the same predictions.
  EXPECT_FALSE(torch::equal(a.predictions, a.predictions[0].expand_as(a.predictions)));
}

// The path a GPU takes (LibTorch's ops): passes of several models, their activations stacked
// along the batch between the stages that use selected parameters, predict what one model at
// a time does.
class TailPasses : public TailEveryArch {};

TEST_P(TailPasses, PassesOfSeveralModelsEqualOneAtATime) {
  const TailCase& c = GetParam();
  const KernelChoice old = kernel_choice();
  set_kernel_choice(KernelChoice::Generic);
  TailEvaluator one(clone_classifier(model, spec), layout, test, false, /*chunk=*/5, /*models_per_pass=*/1);
  TailEvaluator two(clone_classifier(model, spec), layout, test, false, 5, 2);  // passes of 2 and 1
  TailEvaluator all(clone_classifier(model, spec), layout, test, false, 5, 3);
  TailEvaluator defaults(clone_classifier(model, spec), layout, test, false, 5);
  set_kernel_choice(old);
  EXPECT_FALSE(all.uses_fast_tail());
  EXPECT_EQ(all.models_per_pass(), 3);
  EXPECT_EQ(defaults.models_per_pass(), 1);  // on the CPU
  EvalResult a = one.evaluate(params);
  check_same(a, two.evaluate(params), c.arch + " " + c.selection + ": passes of 2");
  check_same(a, all.evaluate(params), c.arch + " " + c.selection + ": one pass of 3");
  for (int64_t i = 0; i < params.size(0); ++i)
    EXPECT_TRUE(torch::equal(a.predictions[i], reference_predictions(model, spec, layout, params[i], test)))
        << "vector " << i;
}

// ResNets and the ViT at 16 px (as many stages, a quarter of the work); ConvNeXt needs 32 (four
// halvings after its 4x4 stem).
INSTANTIATE_TEST_SUITE_P(
    Archs, TailEveryArch,
    ::testing::Values(
        TailCase{"mlp", 1, 28, "auto", 1, false},                                 // fc2
        TailCase{"convnet4", 1, 28, "auto", 5, true},                             // bn3: Winograd conv4
        TailCase{"convnet4", 3, 32, "auto", 5, false},                            // 4x4 conv4 map
        TailCase{"resnet18", 3, 16, "auto", 8, true},                             // layer4.1.bn1, bn2
        TailCase{"resnet18", 3, 16, "layer4.1.bn2", 8, true},                     // only the last op
        TailCase{"resnet18", 3, 16, "layer4.1.conv1.weight,layer4.1.bn2", 8, false, 0},  // conv weights: small changes
        TailCase{"resnet18", 3, 16, "layer4.0.downsample.1,layer4.0.bn2", 7, false},
        TailCase{"resnet50", 3, 16, "auto", 16, true},                            // layer4.2.bn2, bn3
        TailCase{"vit_tiny", 3, 16, "auto", 24, true},                            // blocks.11.norm2, norm
        TailCase{"vit_tiny", 1, 28, "blocks.10.norm2", 22, false},
        TailCase{"convnext_tiny", 3, 32, "auto", 18, true},                       // last block's norm, head.norm
        TailCase{"convnext_tiny", 3, 32, "stages.3.downsample.1.weight,stages.3.blocks.0.norm", 16, false}),
    [](const ::testing::TestParamInfo<TailCase>& info) {
      return info.param.arch + "_" + std::to_string(info.index);
    });

// One case per kind of tail run: a last layer, norms with a shared conv or attention between
// them, a residual block, a selection starting inside a block.
INSTANTIATE_TEST_SUITE_P(
    Archs, TailPasses,
    ::testing::Values(TailCase{"mlp", 1, 28, "auto", 1, false}, TailCase{"convnet4", 1, 28, "auto", 5, true},
                      TailCase{"resnet18", 3, 16, "layer4.0.downsample.1,layer4.0.bn2", 7, false},
                      TailCase{"vit_tiny", 1, 28, "blocks.10.norm2", 22, false},
                      TailCase{"convnext_tiny", 3, 32, "auto", 18, true}),
    [](const ::testing::TestParamInfo<TailCase>& info) {
      return info.param.arch + "_" + std::to_string(info.index);
    });

}  // namespace
}  // namespace pdiff::tail_evaluator_test
