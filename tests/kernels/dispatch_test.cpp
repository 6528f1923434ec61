// The dispatch point (kernels/dispatch.h): the generic LibTorch path, forced on the CPU,
// computes what the hand-written kernels compute, and forcing it really bypasses them.
#include <gtest/gtest.h>

#include "kernels/dispatch.h"
#include "models/convnet4.h"
#include "test_util.h"
#include "zoo/layout.h"
#include "zoo/split_batch_step.h"
#include "zoo/tail_evaluator.h"

namespace pdiff::dispatch_test {
namespace {

// Sets the kernel choice for one scope.
using test::ScopedKernels;

ClassifierSpec convnet4_spec() {
  ClassifierSpec spec;
  spec.arch = "convnet4";
  return spec;
}

Classifier random_convnet4() {
  torch::manual_seed(3);
  Classifier model = make_classifier(convnet4_spec());
  torch::NoGradGuard ng;
  for (auto& p : model->named_parameters())
    if (p.key().find("bn") != std::string::npos) p.value().normal_(0, 1);  // signs of both kinds
  for (auto& b : model->named_buffers()) {
    if (b.key().find("running_var") != std::string::npos) b.value().uniform_(0.5, 2);
    if (b.key().find("running_mean") != std::string::npos) b.value().normal_(0, 0.1);
  }
  return model;
}

TEST(KernelDispatch, ChoiceIsParsedAndApplies) {
  EXPECT_EQ(parse_kernel_choice("auto", "kernels"), KernelChoice::Auto);
  EXPECT_EQ(parse_kernel_choice("generic", "kernels"), KernelChoice::Generic);
  EXPECT_CONTAINS(test::error_of([] { parse_kernel_choice("fast", "PDIFF_KERNELS"); }),
                  "PDIFF_KERNELS = 'fast': use auto");
  auto x = torch::zeros({2, 3});
  EXPECT_TRUE(cpu_kernels_apply(x));
  EXPECT_FALSE(cpu_kernels_apply(x.to(torch::kFloat64)));
  ScopedKernels generic(KernelChoice::Generic);
  EXPECT_FALSE(cpu_kernels_apply(x));
}

TEST(KernelDispatch, ConvNet4TrainingStepIsTheSameOnBothPaths) {
  auto x = torch::randn({16, 1, 28, 28});
  auto y = torch::randint(0, 10, {16}, torch::kInt64);
  auto step = [&](KernelChoice c) {
    ScopedKernels k(c);
    Classifier m = random_convnet4();
    m->train();
    auto loss = torch::cross_entropy_loss(m->forward(m->prepare_input(x)), y);
    loss.backward();
    std::vector<torch::Tensor> out = {loss.detach().reshape({1})};
    for (auto& p : m->parameters()) out.push_back(p.grad().flatten());
    for (auto& b : m->buffers()) out.push_back(b.to(torch::kFloat32).flatten());  // running statistics
    return torch::cat(out);
  };
  auto fast = step(KernelChoice::Auto), generic = step(KernelChoice::Generic);
  EXPECT_LT(test::max_relative_difference(generic, fast), test::kSummationOrderTolerance);
}

TEST(KernelDispatch, TailEvaluatorPredictsTheSameOnBothPaths) {
  Classifier model = random_convnet4();
  model->eval();
  Dataset test{torch::randn({300, 1, 28, 28}), torch::randint(0, 10, {300}, torch::kInt64)};
  ParamLayout layout = ParamLayout::of(model, select_parameters(model, "last_norm:2"));
  auto params = layout.flatten(model).unsqueeze(0).repeat({3, 1});
  params.slice(0, 1, 3).add_(torch::randn_like(params.slice(0, 1, 3)) * 0.05);
  auto evaluate = [&](KernelChoice c) {
    ScopedKernels k(c);
    TailEvaluator ev(clone_classifier(model, convnet4_spec()), layout, test);
    return ev.evaluate(params).predictions;
  };
  auto fast = evaluate(KernelChoice::Auto), generic = evaluate(KernelChoice::Generic);
  // The fast tail redoes close calls with direct math: the same predictions as LibTorch's ops.
  EXPECT_TRUE(torch::equal(fast, generic)) << fast.ne(generic).sum().item<int64_t>() << " predictions differ";
}

TEST(KernelDispatch, GenericPathDoesNotSplitBatches) {
  Classifier model = random_convnet4();
  const int threads = torch::get_num_threads();
  torch::set_num_threads(2);
  EXPECT_EQ(split_workers(*model, 128), 2);
  {
    ScopedKernels generic(KernelChoice::Generic);
    EXPECT_EQ(split_workers(*model, 128), 1);
  }
  torch::set_num_threads(threads);
}

}  // namespace
}  // namespace pdiff::dispatch_test
