// Permutation groups and weight matching on MLPs and ConvNet-4: permuting a group changes no
// output, weight matching undoes a hidden permutation exactly, aligns two separately
// initialised networks closer without changing what either computes, and refuses what it
// cannot align.
#include <gtest/gtest.h>

#include "zoo/weight_matching.h"
#include "test_util.h"
#include "zoo/layout.h"

namespace pdiff::weight_matching_test {
namespace {

ClassifierSpec spec_of(const std::string& arch) {
  ClassifierSpec s;
  s.arch = arch;
  s.in_channels = 1;
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
torch::Tensor outputs(const Classifier& m, const ParamLayout& layout, const torch::Tensor& row) {
  torch::NoGradGuard no_grad;
  layout.assign(m, row);
  const ClassifierSpec s = spec_of(m->named_parameters().contains("fc1.weight") ? "mlp" : "convnet4");
  torch::manual_seed(7);
  return m->forward(torch::randn({6, s.in_channels, s.image_size, s.image_size}));
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

TEST_P(EveryAlignableArch, PermutingAGroupChangesNoOutputAndMatchingUndoesIt) {
  const Classifier m = network(GetParam(), 0);
  const ParamLayout layout = whole(m);
  const std::vector<PermutationGroup> groups = permutation_groups(m, GetParam());
  ASSERT_EQ(groups.size(), GetParam() == "mlp" ? 2u : 4u);
  const torch::Tensor original = layout.flatten(m).clone();
  const torch::Tensor shuffled = row_of(layout, permuted(named_tensors(layout, original), groups, random_perms(groups, 3)));
  EXPECT_GT((shuffled - original).abs().max().item<double>(), 0.01);  // the rows differ ...
  const torch::Tensor before = outputs(m, layout, original);
  EXPECT_TRUE(torch::allclose(outputs(m, layout, shuffled), before, 1e-5, 1e-6));  // ... the function does not
  // Matching the shuffled network to the original finds the inverse permutation: the same row.
  EXPECT_TRUE(torch::equal(align_row(layout, groups, original, shuffled), original));
}

TEST_P(EveryAlignableArch, SeparateNetworksComeCloserAndComputeTheSame) {
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
  EXPECT_TRUE(torch::allclose(outputs(probe, layout, aligned), outputs(probe, layout, rb), 1e-5, 1e-6));
  // Aligning the aligned network again changes nothing: a fixed point.
  EXPECT_TRUE(torch::equal(align_row(layout, groups, ra, aligned), aligned));
}

INSTANTIATE_TEST_SUITE_P(Archs, EveryAlignableArch, ::testing::Values("mlp", "convnet4"));

TEST(WeightMatching, RefusesUnknownArchitecturesAndPartialSelections) {
  ClassifierSpec s = spec_of("resnet18");
  s.in_channels = 3;
  s.image_size = 32;
  const Classifier resnet = make_classifier(s);
  EXPECT_CONTAINS(test::error_of([&] { permutation_groups(resnet, "resnet18"); }), "not resnet18");
  // The last layer alone cannot be aligned: the groups permute the layers before it too.
  const Classifier mlp = network("mlp", 0);
  const ParamLayout last = ParamLayout::of(mlp, select_parameters(mlp, "fc3.*"));
  const std::vector<PermutationGroup> groups = permutation_groups(mlp, "mlp");
  const torch::Tensor row = last.flatten(mlp);
  EXPECT_CONTAINS(test::error_of([&] { align_row(last, groups, row, row); }), "lacks fc1.weight");
}

}  // namespace
}  // namespace pdiff::weight_matching_test
