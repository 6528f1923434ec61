// Tail-only evaluation of model.arch=torchscript (models/torchscript_split.h): for modules
// written by Python (tests/python/own_data.py: LeNet-5 with BatchNorm, scripted; a small CNN
// with GroupNorm and LayerNorm, traced; both trained a few steps) and modules defined here, the
// cached-prefix evaluation gives the full forward's predictions and accuracies on real
// Fashion-MNIST test images for selections at several depths, and the modules it cannot prove
// (an in-place write on a value the prefix would cache, a random op, a first layer selected)
// are evaluated with the full forward, still correctly. The line on stderr names the path.
#include <gtest/gtest.h>

#include "data/dataset.h"
#include "models/torchscript.h"
#include "test_util.h"
#include "zoo/layout.h"
#include "zoo/tail_evaluator.h"
#include "zoo/weights_file.h"

namespace pdiff::torchscript_prefix_test {
namespace {

const int64_t kTestImages = 300;

class TorchScriptPrefix : public ::testing::Test {
 protected:
  // The Python modules and their trained weights, written once for the suite.
  static void SetUpTestSuite() {
    dir_ = new std::string(test::temp_dir("torchscript_prefix"));
    const std::pair<std::string, std::string> modules[] = {{"lenet_bn", "--model lenet_bn"},
                                                           {"lenet_gn", "--model lenet_gn --trace --steps 60"}};
    for (const auto& [name, args] : modules) {
      const std::string file = *dir_ + "/" + name;
      std::string out;
      ASSERT_EQ(test::run_command(test::own_data_command("script '" + file + ".pt' " + args + " --state '" + file +
                                                         "_weights.pt' --test 10"),
                                  &out),
                0)
          << out;
    }
  }
  static void TearDownTestSuite() {
    test::run_command("rm -rf '" + *dir_ + "'");
    delete dir_;
  }
  static Dataset test_images() {
    static Dataset d = load_dataset("fashion-mnist", "", 1, kTestImages).test;
    return d;
  }
  static ClassifierSpec spec(const std::string& file) {
    ClassifierSpec s;
    s.arch = "torchscript";
    s.file = file;
    return s;
  }
  // The module `name` (lenet_bn, lenet_gn) with the weights Python trained.
  static Classifier trained(const std::string& name) {
    Classifier m = make_classifier(spec(*dir_ + "/" + name + ".pt"));
    load_state_dict(m, read_weights_file(*dir_ + "/" + name + "_weights.pt", state_dict(m), "test"), "test");
    return m;
  }
  static std::string* dir_;
};
std::string* TorchScriptPrefix::dir_ = nullptr;

struct Comparison {
  bool fast = false;  // the cached prefix was used
  std::string log;    // what the fast evaluator said on stderr
  EvalResult cached, full;
};

// Evaluates the base model's selected tensors and two perturbations of them both ways.
Comparison compare(const Classifier& model, const ClassifierSpec& spec, const std::string& selection,
                   const Dataset& test) {
  ParamLayout layout = ParamLayout::of(model, select_parameters(model, selection));
  torch::manual_seed(3);
  auto base = layout.flatten(model);
  auto params = torch::stack({base, base * (1 + 0.5 * torch::randn_like(base)), base + 0.3 * torch::randn_like(base)});
  Comparison c;
  ::testing::internal::CaptureStderr();
  TailEvaluator fast(clone_classifier(model, spec), layout, test);
  c.log = ::testing::internal::GetCapturedStderr();
  c.fast = fast.uses_fast_tail();
  c.cached = fast.evaluate(params);
  // Again: a second pass over the same cache must not see values the first one changed.
  auto again = fast.evaluate(params);
  EXPECT_TRUE(torch::equal(again.predictions, c.cached.predictions)) << selection;
  TailEvaluator full(clone_classifier(model, spec), layout, test, /*full_forward=*/true);
  c.full = full.evaluate(params);
  EXPECT_TRUE(torch::equal(c.cached.predictions, c.full.predictions)) << selection << "\n" << c.log;
  EXPECT_TRUE(torch::equal(c.cached.accuracy, c.full.accuracy))
      << selection << ": " << c.cached.accuracy << " vs the full forward's " << c.full.accuracy;
  // The perturbations change predictions: a stale tail would show.
  EXPECT_FALSE(torch::equal(c.full.predictions[0], c.full.predictions[1])) << selection;
  return c;
}

TEST_F(TorchScriptPrefix, ScriptedLeNetWithBatchNormAtThreeDepths) {
  Classifier m = trained("lenet_bn");
  const ClassifierSpec s = spec(*dir_ + "/lenet_bn.pt");
  Comparison last_norms = compare(m, s, "auto", test_images());  // features.5 and bn3
  EXPECT_TRUE(last_norms.fast);
  EXPECT_CONTAINS(last_norms.log, "eval: TorchScript prefix cached up to aten::batch_norm on features.5.weight, "
                                  "features.5.bias (");
  EXPECT_GT(last_norms.full.accuracy[0].item<double>(), 50.0);  // trained: the comparison means something

  Comparison middle = compare(m, s, "fc1", test_images());
  EXPECT_TRUE(middle.fast);
  EXPECT_CONTAINS(middle.log, "prefix cached up to aten::linear on fc1.weight, fc1.bias");

  Comparison first = compare(m, s, "features.0", test_images());
  EXPECT_FALSE(first.fast);
  EXPECT_CONTAINS(first.log, "eval: TorchScript full forward (the first tensor op, aten::conv2d on "
                             "features.0.weight, features.0.bias, uses a selected tensor: nothing to cache)");
}

TEST_F(TorchScriptPrefix, TracedGroupNormCnn) {
  Classifier m = trained("lenet_gn");
  const ClassifierSpec s = spec(*dir_ + "/lenet_gn.pt");
  Comparison norms = compare(m, s, "last_norm:2", test_images());  // gn2, ln
  EXPECT_TRUE(norms.fast);
  EXPECT_CONTAINS(norms.log, "prefix cached up to aten::group_norm on gn2.weight, gn2.bias");
  Comparison head = compare(m, s, "head", test_images());
  EXPECT_TRUE(head.fast);
  EXPECT_CONTAINS(head.log, "prefix cached up to aten::linear on head.weight, head.bias");
}

// The hooks themselves: the same logits as the module's forward, chunk by chunk, and a key
// from before the last prepare_fast_tail is refused.
TEST_F(TorchScriptPrefix, HooksGiveTheForwardsLogits) {
  Classifier m = trained("lenet_bn");
  m->eval();
  torch::NoGradGuard ng;
  auto x = test_images().images.slice(0, 0, 50);
  auto expected = m->forward(x);
  ::testing::internal::CaptureStderr();
  ASSERT_TRUE(m->prepare_fast_tail(0, {"bn3.weight", "bn3.bias"}));
  ::testing::internal::GetCapturedStderr();
  auto key = m->fast_tail_cache(0, x);
  EXPECT_TRUE(torch::allclose(m->fast_tail_forward(0, key), expected, 1e-5, 1e-5));
  ::testing::internal::CaptureStderr();
  ASSERT_TRUE(m->prepare_fast_tail(0, {"fc3.weight"}));
  ::testing::internal::GetCapturedStderr();
  EXPECT_CONTAINS(test::error_of([&] { m->fast_tail_forward(0, key); }), "cached before the last prepare_fast_tail");
  m->train();
  EXPECT_CONTAINS(test::error_of([&] { m->fast_tail_cache(0, x); }), "in eval mode");
}

// A module defined here: parameters w1 (4x1x3x3), b1, w2 (4x4x3x3), g, b (4), fc_w (10x3136),
// fc_b, and `body` as the forward after `x`.
std::string define_module(const std::string& dir, const std::string& name, const std::string& body) {
  torch::manual_seed(7);
  torch::jit::Module m("__torch__." + name);
  m.register_attribute("training", c10::BoolType::get(), true);
  m.register_parameter("w1", torch::randn({4, 1, 3, 3}) * 0.5, false);
  m.register_parameter("b1", torch::randn({4}) * 0.1, false);
  m.register_parameter("w2", torch::randn({4, 4, 3, 3}) * 0.3, false);
  m.register_parameter("g", torch::ones({4}), false);
  m.register_parameter("b", torch::zeros({4}), false);
  m.register_parameter("fc_w", torch::randn({10, 3136}) * 0.02, false);
  m.register_parameter("fc_b", torch::zeros({10}), false);
  m.define("def forward(self, x):\n" + body);
  const std::string path = dir + "/" + name + ".pt";
  m.save(path);
  return path;
}

// The prefix ends in two tensors and an int (the batch size, read before the prefix's ops),
// and reads `self.training` through dropout: a split of several values, dropout deterministic.
TEST_F(TorchScriptPrefix, FrontierOfSeveralValuesOfTwoTypes) {
  const std::string file = define_module(*dir_, "Skip",
                                         "    n = x.size(0)\n"
                                         "    h = torch.relu(torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1]))\n"
                                         "    h = torch.dropout(h, 0.5, self.training)\n"
                                         "    s = torch.conv2d(h, self.w2, None, [1, 1], [1, 1])\n"
                                         "    y = torch.relu(s * self.g.view(1, -1, 1, 1) + self.b.view(1, -1, 1, 1)) + h\n"
                                         "    return torch.linear(y.view(n, -1), self.fc_w, self.fc_b)\n");
  Classifier m = make_classifier(spec(file));
  Comparison c = compare(m, spec(file), "g,b", test_images());
  EXPECT_TRUE(c.fast);
  EXPECT_CONTAINS(c.log, "prefix cached up to aten::view on g (");
  ScriptSplit split = split_forward(torch::jit::load(file), {"g", "b"});
  EXPECT_EQ(split.frontier, 3u) << split.summary;  // h, s and the shape [n, -1]
}

TEST_F(TorchScriptPrefix, UnprovableModulesRunTheFullForward) {
  struct Case {
    std::string name, body, reason;
  };
  const std::string prefix = "    h = torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1])\n"
                             "    y = torch.relu(h * self.g.view(1, -1, 1, 1) + self.b.view(1, -1, 1, 1))\n";
  const std::string head = "    return torch.linear((y + h).view(x.size(0), -1), self.fc_w, self.fc_b)\n";
  for (const Case& c : std::vector<Case>{
           // The tail adds into h, which the prefix would cache: a second model would see it twice.
           {"TailWrites", prefix + "    h.add_(y)\n" + head,
            "full forward (aten::add_ writes in place to a value the prefix would cache)"},
           // relu_ on h after y read it: in a prefix it would run before.
           {"LateWrite", prefix + "    h.relu_()\n" + head,
            "full forward (aten::relu_ writes in place after the first use of a selected tensor"},
           {"Random", "    x = x + torch.rand_like(x) * 0.0\n" + prefix + head, "full forward (aten::rand_like is random)"},
           {"WritesInput", "    x.mul_(1.0)\n" + prefix + head,
            "full forward (aten::mul_ writes in place to the input or to a module tensor)"},
       }) {
    const std::string file = define_module(*dir_, c.name, c.body);
    Classifier m = make_classifier(spec(file));
    Comparison r = compare(m, spec(file), "g,b", test_images());
    EXPECT_FALSE(r.fast) << c.name;
    EXPECT_CONTAINS(r.log, "eval: TorchScript " + c.reason);
  }
  // Without the in-place op, the same module splits.
  const std::string file = define_module(*dir_, "Pure", prefix + head);
  Comparison r = compare(make_classifier(spec(file)), spec(file), "g,b", test_images());
  EXPECT_TRUE(r.fast);
}

}  // namespace
}  // namespace pdiff::torchscript_prefix_test
