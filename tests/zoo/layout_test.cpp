// Tests of parameter selection (zoo.select) and ParamLayout on ConvNet-4: which tensors each
// selection picks, D, offsets, flatten/assign round trips and the save/load of a layout.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "core/error.h"
#include "io/file_io.h"
#include "models/classifier.h"
#include "test_util.h"
#include "zoo/layout.h"

namespace pdiff::layout_test {
namespace {

ClassifierSpec convnet4_spec() {
  ClassifierSpec s;
  s.arch = "convnet4";
  s.in_channels = 1;
  s.image_size = 28;
  s.num_classes = 10;
  return s;
}

Classifier convnet4(uint64_t seed = 0) {
  torch::manual_seed(seed);
  return make_classifier(convnet4_spec());
}

using Names = std::vector<std::string>;

using test::error_of;

TEST(Select, LastTwoNorms) {
  auto model = convnet4();
  EXPECT_EQ(model->norm_layers(), (Names{"bn1", "bn2", "bn3", "bn4"}));
  Names names = select_parameters(model, "last_norm:2");
  EXPECT_EQ(names, (Names{"bn3.weight", "bn3.bias", "bn4.weight", "bn4.bias"}));
  ParamLayout layout = ParamLayout::of(model, names);
  EXPECT_EQ(layout.dim(), 768);
  ASSERT_EQ(layout.entries().size(), 4u);
  EXPECT_EQ(layout.entries()[0].shape, (std::vector<int64_t>{128}));
  EXPECT_EQ(layout.entries()[2].shape, (std::vector<int64_t>{256}));
  EXPECT_EQ(layout.entries()[1].offset, 128);
  EXPECT_EQ(layout.entries()[2].offset, 256);
  EXPECT_EQ(layout.entries()[3].offset, 512);
  EXPECT_EQ(select_parameters(model, "last_norm:1"), (Names{"bn4.weight", "bn4.bias"}));
  EXPECT_EQ(select_parameters(model, "last_norm:4").size(), 8u);
}

TEST(Select, AutoIsLastTwoNormsOrTheLastLayer) {
  auto model = convnet4();
  EXPECT_EQ(select_parameters(model, "auto"), select_parameters(model, "last_norm:2"));
  // The MLP has no norm layers: last_norm:2 is refused, auto means its last Linear layer.
  ClassifierSpec spec;
  spec.arch = "mlp";
  spec.mlp_hidden = {64, 32};
  auto mlp = make_classifier(spec);
  EXPECT_THROW(select_parameters(mlp, "last_norm:2"), Error);
  EXPECT_EQ(select_parameters(mlp, "auto"), (Names{"fc3.weight", "fc3.bias"}));
  EXPECT_EQ(ParamLayout::of(mlp, select_parameters(mlp, "auto")).dim(), 32 * 10 + 10);
  // Every other architecture has at least two norm layers.
  for (const char* arch : {"resnet18", "resnet50", "vit_tiny", "convnext_tiny"}) {
    spec.arch = arch;
    spec.in_channels = 3;
    spec.image_size = 32;
    auto m = make_classifier(spec);
    EXPECT_EQ(select_parameters(m, "auto"), select_parameters(m, "last_norm:2")) << arch;
  }
}

TEST(Select, Patterns) {
  auto model = convnet4();
  EXPECT_EQ(select_parameters(model, "bn3.*,fc.weight"), (Names{"bn3.weight", "bn3.bias", "fc.weight"}));
  EXPECT_EQ(ParamLayout::of(model, select_parameters(model, "bn3.*,fc.weight")).dim(), 128 * 2 + 256 * 10);
  // Spaces around items are ignored; model order, not pattern order.
  EXPECT_EQ(select_parameters(model, " fc.weight , bn3.* "), (Names{"bn3.weight", "bn3.bias", "fc.weight"}));
  // A bare module name means all its parameters; an exact parameter name means itself.
  EXPECT_EQ(select_parameters(model, "bn4"), (Names{"bn4.weight", "bn4.bias"}));
  EXPECT_EQ(select_parameters(model, "bn4.bias"), (Names{"bn4.bias"}));
  EXPECT_EQ(select_parameters(model, "*.bias"), (Names{"bn1.bias", "bn2.bias", "bn3.bias", "bn4.bias", "fc.bias"}));
  EXPECT_EQ(select_parameters(model, "conv?.weight").size(), 4u);
  // A name prefix is not a module name: "bn" matches nothing.
  EXPECT_THROW(select_parameters(model, "bn"), Error);
}

TEST(Select, AllIsEveryParameter) {
  auto model = convnet4();
  Names all;
  int64_t total = 0;
  for (const auto& p : model->named_parameters()) all.push_back(p.key()), total += p.value().numel();
  Names got = select_parameters(model, "all");
  EXPECT_EQ(got, all);
  EXPECT_EQ(got.size(), 14u);
  EXPECT_EQ(ParamLayout::of(model, got).dim(), total);
  // 32*9 + 64*32*9 + 128*64*9 + 256*128*9 + 2*(32+64+128+256) + 256*10 + 10
  EXPECT_EQ(total, 288 + 18432 + 73728 + 294912 + 960 + 2570);
}

TEST(Select, ErrorsNameTheSelection) {
  auto model = convnet4();
  std::string msg = error_of([&] { select_parameters(model, "nomatch*"); });
  EXPECT_NE(msg.find("nomatch*"), std::string::npos) << msg;
  EXPECT_NE(msg.find("zoo.select"), std::string::npos) << msg;
  msg = error_of([&] { select_parameters(model, "last_norm:99"); });
  EXPECT_NE(msg.find("last_norm:99"), std::string::npos) << msg;
  EXPECT_NE(msg.find("4"), std::string::npos) << msg;  // says how many there are
  EXPECT_NE(error_of([&] { select_parameters(model, "last_norm:0"); }).find("last_norm:0"), std::string::npos);
  EXPECT_NE(error_of([&] { select_parameters(model, "last_norm:x"); }).find("last_norm:x"), std::string::npos);
  EXPECT_THROW(select_parameters(model, ""), Error);
  EXPECT_THROW(select_parameters(model, ",,"), Error);
}

TEST(Layout, FlattenAssignRoundTrip) {
  for (const std::string& sel : {"last_norm:2", "bn3.*,fc.weight", "all"}) {
    SCOPED_TRACE(sel);
    auto a = convnet4(1), b = convnet4(2);
    {
      // BN weights start at 1 and biases at 0 in every model: move them apart.
      torch::NoGradGuard ng;
      for (auto& p : a->parameters()) p.add_(torch::randn_like(p));
    }
    ParamLayout layout = ParamLayout::of(a, select_parameters(a, sel));
    // Offsets are consecutive and cover D.
    int64_t off = 0;
    for (const auto& e : layout.entries()) {
      EXPECT_EQ(e.offset, off) << e.name;
      int64_t n = 1;
      for (auto d : e.shape) n *= d;
      EXPECT_EQ(e.numel, n) << e.name;
      off += e.numel;
    }
    EXPECT_EQ(off, layout.dim());
    torch::Tensor va = layout.flatten(a);
    ASSERT_EQ(va.sizes(), (std::vector<int64_t>{layout.dim()}));
    EXPECT_EQ(va.scalar_type(), torch::kFloat32);
    // Each slice is the named tensor.
    auto params = a->named_parameters();
    for (const auto& e : layout.entries())
      EXPECT_TRUE(torch::equal(va.slice(0, e.offset, e.offset + e.numel).view(e.shape), params[e.name])) << e.name;
    // Assign into another model: the selected tensors follow, the rest does not move.
    auto before_b = layout.flatten(b);
    std::vector<std::pair<std::string, torch::Tensor>> others;
    for (const auto& p : b->named_parameters()) others.emplace_back(p.key(), p.value().clone());
    layout.assign(b, va);
    EXPECT_TRUE(torch::equal(layout.flatten(b), va));
    EXPECT_FALSE(torch::equal(before_b, va));
    auto names = layout.names();
    for (const auto& [name, t] : others)
      if (std::find(names.begin(), names.end(), name) == names.end())
        EXPECT_TRUE(torch::equal(b->named_parameters()[name], t)) << name << " changed";
    // A vector of arbitrary values round-trips exactly; flatten returns a copy, not a view.
    auto v = torch::randn({layout.dim()});
    layout.assign(b, v);
    auto back = layout.flatten(b);
    EXPECT_TRUE(torch::equal(back, v));
    back.add_(1.0);
    EXPECT_TRUE(torch::equal(layout.flatten(b), v));
    // Wrong length is refused.
    EXPECT_THROW(layout.assign(b, torch::zeros({layout.dim() + 1})), Error);
    EXPECT_THROW(layout.assign(b, torch::zeros({1, layout.dim()})), Error);
  }
}

TEST(Layout, TensorsShareStorage) {
  auto model = convnet4();
  ParamLayout layout = ParamLayout::of(model, select_parameters(model, "last_norm:2"));
  auto ts = layout.tensors(model);
  ASSERT_EQ(ts.size(), 4u);
  {
    torch::NoGradGuard ng;
    ts[3].fill_(0.25);
  }
  EXPECT_TRUE(torch::all(layout.flatten(model).slice(0, 512, 768).eq(0.25)).item<bool>());
  // A layout applied to a model without those tensors is refused.
  ClassifierSpec mlp;
  mlp.arch = "mlp";
  auto other = make_classifier(mlp);
  EXPECT_THROW(layout.flatten(other), Error);
}

TEST(Layout, SaveLoadDictFile) {
  auto model = convnet4();
  ParamLayout layout = ParamLayout::of(model, select_parameters(model, "bn3.*,fc.weight,bn4"));
  std::string path = test::temp_dir("layout") + "/layout.pt";
  DictFile f;
  layout.save(f);
  f.set_tensor("params", layout.flatten(model).unsqueeze(0));
  f.save(path, "pdiff.layout_test", 1);
  DictFile g = DictFile::load(path, "pdiff.layout_test", 1, "test");
  ParamLayout back = ParamLayout::load(g);
  EXPECT_EQ(layout.difference(back), "");
  EXPECT_EQ(back.dim(), layout.dim());
  ASSERT_EQ(back.entries().size(), layout.entries().size());
  for (size_t i = 0; i < back.entries().size(); ++i) {
    EXPECT_EQ(back.entries()[i].name, layout.entries()[i].name);
    EXPECT_EQ(back.entries()[i].shape, layout.entries()[i].shape);
    EXPECT_EQ(back.entries()[i].offset, layout.entries()[i].offset);
    EXPECT_EQ(back.entries()[i].numel, layout.entries()[i].numel);
  }
  EXPECT_TRUE(torch::equal(g.tensor("params")[0], layout.flatten(model)));
  // The loaded layout drives assign on a fresh model.
  auto fresh = convnet4(5);
  back.assign(fresh, g.tensor("params")[0]);
  EXPECT_TRUE(torch::equal(layout.flatten(fresh), layout.flatten(model)));
  // difference() reports a different layout.
  ParamLayout other = ParamLayout::of(model, select_parameters(model, "last_norm:2"));
  EXPECT_NE(layout.difference(other), "");
  EXPECT_EQ(other.difference(other), "");
  // Inconsistent offsets in a file are refused, naming the tensor.
  auto offsets = g.ints("offsets");
  offsets[1] += 1;
  g.set_ints("offsets", offsets);
  try {
    ParamLayout::load(g);
    ADD_FAILURE() << "inconsistent offsets accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(layout.entries()[1].name), std::string::npos) << e.what();
  }
  // Lists of different lengths too.
  g.set_ints("offsets", {0});
  EXPECT_THROW(ParamLayout::load(g), Error);
}

}  // namespace
}  // namespace pdiff::layout_test
