// Permutation groups and weight matching on MLPs, ConvNet-4 and ResNets: permuting a group changes no
// output, weight matching undoes a hidden permutation exactly, aligns two separately
// initialised networks closer without changing what either computes, and refuses what it
// cannot align.
#include <gtest/gtest.h>

#include <map>

#include "zoo/weight_matching.h"
#include "test_util.h"
#include "zoo/activation_matching.h"
#include "zoo/zoo_alignment.h"
#include "zoo/layout.h"

namespace pdiff::weight_matching_test {
namespace {

ClassifierSpec spec_of(const std::string& arch) {
  ClassifierSpec s;
  s.arch = arch;
  const bool resnet = arch.rfind("resnet", 0) == 0;
  s.in_channels = resnet ? 3 : 1;
  s.image_size = arch == "mlp" ? 8 : 12;
  s.num_classes = 5;
  s.mlp_hidden = {16, 12};
  return s;
}

// A network of the arch from `seed`, in eval mode, with BatchNorm statistics that are not the
// defaults (so that moving them with their channels matters).
Classifier network(const std::string& arch, uint64_t seed) {
  torch::manual_seed(seed);
  Classifier m = make_classifier(spec_of(arch));
  torch::NoGradGuard no_grad;
  for (auto& b : m->named_buffers()) {
    if (b.key().find("running_mean") != std::string::npos) b.value().normal_(0, 0.3);
    if (b.key().find("running_var") != std::string::npos) b.value().uniform_(0.5, 2.0);
  }
  m->eval();
  return m;
}

ParamLayout whole(const Classifier& m) { return ParamLayout::of(m, select_parameters(m, "whole")); }

// The logits of `m` with `row` assigned, on a fixed batch of random images.
torch::Tensor outputs(const Classifier& m, const std::string& arch, const ParamLayout& layout,
                      const torch::Tensor& row) {
  torch::NoGradGuard no_grad;
  layout.assign(m, row);
  const ClassifierSpec s = spec_of(arch);
  torch::manual_seed(7);
  return m->forward(torch::randn({6, s.in_channels, s.image_size, s.image_size}));
}

// The largest difference in units of the largest logit: the same function, summed in another order.
double relative_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max()).item<double>();
}

std::vector<torch::Tensor> random_perms(const std::vector<PermutationGroup>& groups, uint64_t seed) {
  torch::manual_seed(seed);
  std::vector<torch::Tensor> perms;
  for (const auto& g : groups) perms.push_back(torch::randperm(g.size));
  return perms;
}

torch::Tensor row_of(const ParamLayout& layout, const TensorsByName& t) {
  torch::Tensor row = torch::empty({layout.dim()});
  for (const auto& e : layout.entries()) row.narrow(0, e.offset, e.numel).copy_(t.at(e.name).reshape(-1));
  return row;
}

class EveryAlignableArch : public ::testing::TestWithParam<std::string> {};
using SomeAlignableArchs = EveryAlignableArch;  // ResNet-50's 2048-channel assignments take ~40 s: not here

TEST_P(EveryAlignableArch, PermutingAGroupChangesNoOutputAndMatchingUndoesIt) {
  const Classifier m = network(GetParam(), 0);
  const ParamLayout layout = whole(m);
  const std::vector<PermutationGroup> groups = permutation_groups(m, GetParam());
  // ResNet-18: 4 residual streams and 8 blocks' conv1; ResNet-50: 5 streams (layer1 widens the stem's), 16 blocks' conv1 and conv2.
  const std::map<std::string, size_t> expected{{"mlp", 2}, {"convnet4", 4}, {"resnet18", 12}, {"resnet50", 37}};
  ASSERT_EQ(groups.size(), expected.at(GetParam()));
  const torch::Tensor original = layout.flatten(m).clone();
  const torch::Tensor shuffled = row_of(layout, permuted(named_tensors(layout, original), groups, random_perms(groups, 3)));
  EXPECT_GT((shuffled - original).abs().max().item<double>(), 0.01);  // the rows differ ...
  const torch::Tensor before = outputs(m, GetParam(), layout, original);
  EXPECT_LT(relative_difference(outputs(m, GetParam(), layout, shuffled), before), 1e-5);  // ... the function does not
  // Matching the shuffled network to the original finds the inverse permutation: the same row.
  if (GetParam() == "resnet50") return;  // its 2048-channel assignments take ~12 s: ResNet-18 has the same groups
  EXPECT_TRUE(torch::equal(align_row(layout, groups, original, shuffled), original));
}

TEST_P(SomeAlignableArchs, SeparateNetworksComeCloserAndComputeTheSame) {
  const Classifier a = network(GetParam(), 1), b = network(GetParam(), 2);
  const ParamLayout layout = whole(a);
  const std::vector<PermutationGroup> groups = permutation_groups(a, GetParam());
  const torch::Tensor ra = layout.flatten(a).clone(), rb = layout.flatten(b).clone();
  const torch::Tensor aligned = align_row(layout, groups, ra, rb);
  // The summed inner product of the weights with the reference grows, so (same norms) the
  // distance shrinks; the aligned network is b, reordered.
  EXPECT_LT((aligned - ra).norm().item<double>(), (rb - ra).norm().item<double>());
  EXPECT_NEAR(aligned.norm().item<double>(), rb.norm().item<double>(), 1e-4);
  const Classifier probe = network(GetParam(), 9);
  EXPECT_LT(relative_difference(outputs(probe, GetParam(), layout, aligned), outputs(probe, GetParam(), layout, rb)), 1e-5);
  // Aligning the aligned network again changes nothing: a fixed point.
  EXPECT_TRUE(torch::equal(align_row(layout, groups, ra, aligned), aligned));
}

INSTANTIATE_TEST_SUITE_P(Archs, EveryAlignableArch, ::testing::Values("mlp", "convnet4", "resnet18", "resnet50"));
INSTANTIATE_TEST_SUITE_P(Archs, SomeAlignableArchs, ::testing::Values("mlp", "convnet4", "resnet18"));

// Random training images of the arch's input size.
DataSplits random_images(const std::string& arch) {
  const ClassifierSpec s = spec_of(arch);
  DataSplits d;
  d.name = "tensors";
  d.channels = s.in_channels;
  d.image_size = s.image_size;
  d.num_classes = s.num_classes;
  torch::manual_seed(11);
  d.train.images = torch::randn({96, s.in_channels, s.image_size, s.image_size});
  d.train.labels = torch::randint(0, s.num_classes, {96});
  d.test = d.train;
  return d;
}

class ActivationAlignableArch : public ::testing::TestWithParam<std::string> {};

TEST_P(ActivationAlignableArch, ActivationMatchingUndoesAPermutationAndAlignsWithoutChangingOutputs) {
  const std::string arch = GetParam();
  const DataSplits data = random_images(arch);
  const Classifier a = network(arch, 1), b = network(arch, 2);
  const ParamLayout layout = whole(a);
  const std::vector<PermutationGroup> groups = permutation_groups(a, arch);
  const AlignmentSetup setup{"activations", &data, 2, 0};
  RowAligner aligner(layout, a, spec_of(arch), setup);
  const torch::Tensor ra = layout.flatten(a).clone(), rb = layout.flatten(b).clone();
  EXPECT_TRUE(torch::equal(aligner(ra, 0), ra));  // row 0 is the reference, kept
  // A shuffled copy of the reference has the same activations, reordered: matched back exactly,
  // the units that never fire on these random images (many, in ConvNet-4's last layers) by their
  // incoming weights.
  const torch::Tensor shuffled = row_of(layout, permuted(named_tensors(layout, ra), groups, random_perms(groups, 5)));
  EXPECT_FALSE(torch::equal(shuffled, ra));
  EXPECT_TRUE(torch::equal(aligner(shuffled, 1), ra));
  // Another network: reordered, the same function, and its activations correlate better with
  // the reference's, group by group, than before.
  const torch::Tensor aligned = aligner(rb, 2);
  const Classifier probe = network(arch, 9);
  EXPECT_LT(relative_difference(outputs(probe, arch, layout, aligned), outputs(probe, arch, layout, rb)), 1e-5);
  EXPECT_NEAR(aligned.norm().item<double>(), rb.norm().item<double>(), 1e-4);
  ActivationMatching matching(a, spec_of(arch), layout, groups, data, 2, 0);
  const auto ref = matching.activations(ra), before = matching.activations(rb), after = matching.activations(aligned);
  ASSERT_EQ(ref.size(), groups.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    SCOPED_TRACE(groups[g].name);
    EXPECT_EQ(ref[g].size(0), groups[g].size);
    EXPECT_GT((ref[g] * after[g]).sum().item<double>(), (ref[g] * before[g]).sum().item<double>());
  }
}

INSTANTIATE_TEST_SUITE_P(Archs, ActivationAlignableArch, ::testing::Values("mlp", "convnet4", "resnet18"));

// The summed squared distance of the rows to their average: how far apart the zoo's units are.
double spread(const torch::Tensor& rows) { return (rows - rows.mean(0)).pow(2).sum().item<double>(); }

// zoo.align_rounds (Git Re-Basin's MergeMany): after every network is aligned to the first,
// rounds of each to the average of the others bring the zoo closer together than one reference
// does, and still change no network's outputs. The MLP, by weights and by activations (the
// rounds call the same aligner as the first alignment, whose groups the tests above check).
class AlignToAverage : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(AlignToAverage, BringsTheZooCloserWithoutChangingOutputs) {
  const auto& [arch, method] = GetParam();
  const DataSplits data = random_images(arch);
  const Classifier first = network(arch, 20);
  const ParamLayout layout = whole(first);
  std::vector<torch::Tensor> networks;
  for (uint64_t seed = 20; seed < 26; ++seed) networks.push_back(layout.flatten(network(arch, seed)).clone());
  const torch::Tensor zoo = torch::stack(networks);
  AlignmentSetup setup{method, &data, 2, 0};
  torch::Tensor to_first = zoo.clone();
  align_zoo_rows(to_first, layout, first, spec_of(arch), setup);
  setup.rounds = 3;
  torch::Tensor to_average = zoo.clone();
  align_zoo_rows(to_average, layout, first, spec_of(arch), setup);
  EXPECT_LT(spread(to_first), spread(zoo));
  EXPECT_LT(spread(to_average), 0.995 * spread(to_first));
  const Classifier probe = network(arch, 9);
  for (int64_t k = 0; k < zoo.size(0); ++k) {
    SCOPED_TRACE("network " + std::to_string(k));
    EXPECT_FALSE(torch::equal(to_average[k], zoo[k]));  // every network moved, the first too
    EXPECT_LT(relative_difference(outputs(probe, arch, layout, to_average[k]), outputs(probe, arch, layout, zoo[k])), 1e-5);
  }
  // Another round from where the rounds stopped is the same function of the rows (a resumed
  // collection takes up the rounds from the rows on disk).
  RowAligner aligner(layout, first, spec_of(arch), setup);
  torch::Tensor once_more = to_average.clone(), again = to_average.clone();
  for (torch::Tensor* rows : {&once_more, &again})
    align_round_to_average(aligner, rows->size(0), [&](int64_t i) { return (*rows)[i].clone(); },
                           [&](int64_t i, const torch::Tensor& row) { (*rows)[i].copy_(row); });
  EXPECT_TRUE(torch::equal(once_more, again));
  EXPECT_LE(spread(once_more), spread(to_average) * (1 + 1e-6));
}

INSTANTIATE_TEST_SUITE_P(Methods, AlignToAverage,
                         ::testing::Values(std::make_pair("mlp", "weights"), std::make_pair("mlp", "activations")),
                         [](const auto& info) { return info.param.first + "_" + info.param.second; });

// An MLP computed in one stage that shows no layer inside it: its hidden units are produced and
// read where pdiff sees no activation of them.
class OneStageMlpImpl : public ClassifierImpl {
 public:
  OneStageMlpImpl() {
    fc1 = register_module("fc1", torch::nn::Linear(4, 3));
    fc2 = register_module("fc2", torch::nn::Linear(3, 2));
  }
  int64_t num_stages() const override { return 1; }
  torch::Tensor forward_stage(int64_t, torch::Tensor x) override { return fc2(torch::relu(fc1(x))); }
  std::vector<std::string> stage_params(int64_t) const override { return {"fc1.", "fc2."}; }

 private:
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};

TEST(ActivationMatching, SeesEveryResNetGroupAndRefusesGroupsSeenOnlyInsideALayer) {
  // A ResNet shows its blocks' ops: a block's inner channels are seen at its next convolution, a
  // stream at every block that reads it (with its downsample) and at the head.
  const Classifier resnet = network("resnet18", 0);
  const std::vector<PermutationGroup> groups = permutation_groups(resnet, "resnet18");
  const auto inputs = activation_inputs(resnet, "resnet18", groups);
  std::map<std::string, std::vector<LayerInput>> seen;
  for (size_t g = 0; g < groups.size(); ++g) seen[groups[g].name] = inputs[g];
  ASSERT_EQ(seen.at("layer1.0.conv1").size(), 1u);  // at conv2: stage 1 (layer1.0), its op 2
  EXPECT_EQ(seen.at("layer1.0.conv1")[0].stage, 1);
  EXPECT_EQ(seen.at("layer1.0.conv1")[0].layer, 2u);
  ASSERT_EQ(seen.at("conv1").size(), 3u);  // layer1.0, layer1.1, layer2.0 (and its downsample): their inputs
  for (int64_t b = 0; b < 3; ++b) {
    EXPECT_EQ(seen.at("conv1")[b].stage, b + 1);
    EXPECT_EQ(seen.at("conv1")[b].layer, 0u);
  }
  ASSERT_EQ(seen.at("layer4.0.downsample").size(), 2u);  // layer4.1 and fc
  EXPECT_EQ(seen.at("layer4.0.downsample")[1].stage, resnet->num_stages() - 1);
  EXPECT_NO_THROW(check_alignable(whole(resnet), resnet, "resnet18", "activations"));
  EXPECT_CONTAINS(test::error_of([&] { check_alignable(whole(resnet), resnet, "resnet18", "neurons"); }),
                  "use none, weights or activations");

  const Classifier one_stage = std::make_shared<OneStageMlpImpl>();
  EXPECT_CONTAINS(test::error_of([&] { activation_inputs(one_stage, "mlp", permutation_groups(one_stage, "mlp")); }),
                  "the units of fc1 are produced and read inside one layer of model.arch=mlp");
}

TEST(WeightMatching, RefusesUnknownArchitecturesAndPartialSelections) {
  ClassifierSpec s = spec_of("vit_tiny");
  s.in_channels = 3;
  s.image_size = 32;
  const Classifier vit = make_classifier(s);
  EXPECT_CONTAINS(test::error_of([&] { permutation_groups(vit, "vit_tiny"); }), "not vit_tiny (its attention heads");
  // The last layer alone cannot be aligned: the groups permute the layers before it too.
  const Classifier mlp = network("mlp", 0);
  const ParamLayout last = ParamLayout::of(mlp, select_parameters(mlp, "fc3.*"));
  const std::vector<PermutationGroup> groups = permutation_groups(mlp, "mlp");
  const torch::Tensor row = last.flatten(mlp);
  EXPECT_CONTAINS(test::error_of([&] { align_row(last, groups, row, row); }), "lacks fc1.weight");
}

}  // namespace
}  // namespace pdiff::weight_matching_test
