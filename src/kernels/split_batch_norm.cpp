#include "kernels/split_batch_norm.h"

#include "kernels/batch_sync.h"

namespace pdiff {

namespace {
using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

const std::vector<int64_t> kReduceDims = {0, 2, 3};  // everything but the channel

// (C) -> (1, C, 1, 1) for broadcasting over (B, C, H, W).
Tensor per_channel(const Tensor& t) { return t.view({1, -1, 1, 1}); }

struct SplitBatchNorm : public torch::autograd::Function<SplitBatchNorm> {
  static Tensor forward(AutogradContext* ctx, Tensor x, Tensor weight, Tensor bias, Tensor running_mean,
                        Tensor running_var, Tensor num_batches_tracked, double momentum, double eps) {
    const BatchSplit* split = current_batch_split();
    auto x64 = x.to(torch::kFloat64);
    const auto moments = whole_batch_moments(split, x64.sum(kReduceDims), (x64 * x64).sum(kReduceDims),
                                             double(x.numel() / x.size(1)), running_mean, running_var,
                                             num_batches_tracked, momentum);
    const double all_rows = moments.rows;
    const auto &mean64 = moments.mean, &var64 = moments.var;
    auto mean = mean64.to(torch::kFloat32), invstd = (var64 + eps).rsqrt().to(torch::kFloat32);
    auto xhat = (x - per_channel(mean)) * per_channel(invstd);
    ctx->save_for_backward({xhat, weight, invstd});
    ctx->saved_data["all_rows"] = all_rows;
    save_split(ctx, split);
    return xhat * per_channel(weight.detach()) + per_channel(bias.detach());
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    auto xhat = saved[0], weight = saved[1], invstd = saved[2];
    auto g = grads[0];
    const int64_t c = xhat.size(1);
    auto local = torch::cat({g.to(torch::kFloat64).sum(kReduceDims), (g.to(torch::kFloat64) * xhat).sum(kReduceDims)});
    const auto split = saved_split(ctx);
    auto sums = sum_over_split(split ? &*split : nullptr, local).to(torch::kFloat32);
    const double all_rows = ctx->saved_data["all_rows"].toDouble();
    auto mean_g = per_channel(sums.slice(0, 0, c) / all_rows), mean_gx = per_channel(sums.slice(0, c, 2 * c) / all_rows);
    Tensor grad_x;
    if (ctx->needs_input_grad(0)) grad_x = per_channel(weight.detach() * invstd) * (g - mean_g - xhat * mean_gx);
    auto local32 = local.to(torch::kFloat32);
    return {grad_x, local32.slice(0, c, 2 * c), local32.slice(0, 0, c), Tensor(), Tensor(), Tensor(), Tensor(), Tensor()};
  }
};
}  // namespace

torch::Tensor split_batch_norm_train(const torch::Tensor& x, torch::nn::BatchNorm2dImpl& bn) {
  TORCH_CHECK(x.dim() == 4, "split_batch_norm_train: expected (B, C, H, W), got ", x.sizes());
  TORCH_CHECK(bn.options.affine() && bn.options.track_running_stats(),
              "split_batch_norm_train: needs an affine BatchNorm2d that tracks running statistics");
  if (!current_batch_split()) return bn.forward(x);
  const auto& momentum = bn.options.momentum();
  return SplitBatchNorm::apply(x, bn.weight, bn.bias, bn.running_mean, bn.running_var, bn.num_batches_tracked,
                               momentum ? *momentum : -1.0, bn.options.eps());
}

}  // namespace pdiff
