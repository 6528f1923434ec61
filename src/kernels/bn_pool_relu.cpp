#include "kernels/bn_pool_relu.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <optional>

#include "kernels/batch_sync.h"

namespace pdiff {

namespace {
using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// Fixed partition of the rows for reductions, so that sums add in the same order whatever
// the thread count: results are bitwise reproducible.
constexpr int64_t kParts = 16;

// Per-channel sum and sum of squares of rows [begin, end) of a (rows, C) matrix.
__attribute__((target_clones("avx2", "default")))
void accumulate_moments(const float* x, int64_t begin, int64_t end, int64_t c, double* sum, double* sumsq) {
  for (int64_t r = begin; r < end; ++r) {
    const float* row = x + r * c;
    for (int64_t j = 0; j < c; ++j) {
      double v = row[j];
      sum[j] += v;
      sumsq[j] += v * v;
    }
  }
}

// One pooling window for C channels: normalise four rows, take the first maximum (as
// max_pool2d does), apply ReLU. Stores the output, the winner's index and its normalised value.
__attribute__((target_clones("avx2", "default")))
void pool_window(const float* r00, const float* r01, const float* r10, const float* r11, const float* scale,
                 const float* shift, const float* mean, const float* invstd, int64_t c, float* out,
                 uint8_t* winner, float* xhat) {
  for (int64_t j = 0; j < c; ++j) {
    float v0 = r00[j] * scale[j] + shift[j], v1 = r01[j] * scale[j] + shift[j];
    float v2 = r10[j] * scale[j] + shift[j], v3 = r11[j] * scale[j] + shift[j];
    float best = v0, raw = r00[j];
    uint8_t k = 0;
    if (v1 > best) best = v1, raw = r01[j], k = 1;
    if (v2 > best) best = v2, raw = r10[j], k = 2;
    if (v3 > best) best = v3, raw = r11[j], k = 3;
    out[j] = best > 0 ? best : 0;
    winner[j] = k;
    xhat[j] = (raw - mean[j]) * invstd[j];
  }
}

// Per-channel sums of the output gradient, and of it times the normalised winner, over
// pooled rows [begin, end) where the ReLU let the gradient through.
__attribute__((target_clones("avx2", "default")))
void accumulate_grad_sums(const float* g, const float* out, const float* xhat, int64_t begin, int64_t end,
                          int64_t c, double* sum_g, double* sum_gx) {
  for (int64_t r = begin; r < end; ++r)
    for (int64_t j = 0; j < c; ++j) {
      int64_t i = r * c + j;
      float gy = out[i] > 0 ? g[i] : 0.f;
      sum_g[j] += gy;
      sum_gx[j] += double(gy) * xhat[i];
    }
}

// dx for one input row of C channels: k1 * (dy - a - xhat * b), where dy is the pooled
// gradient if this position won its window (slot `k`) and the ReLU was open, else 0.
__attribute__((target_clones("avx2", "default")))
void input_grad_row(const float* x, const float* g, const float* out, const uint8_t* winner, int k,
                    const float* mean, const float* invstd, const float* k1, const float* a, const float* b,
                    int64_t c, float* dx) {
  for (int64_t j = 0; j < c; ++j) {
    float dy = winner[j] == k && out[j] > 0 ? g[j] : 0.f;
    float xhat = (x[j] - mean[j]) * invstd[j];
    dx[j] = k1[j] * (dy - a[j] - xhat * b[j]);
  }
}

// The same for a row outside every pooling window (the last row or column of an odd size).
__attribute__((target_clones("avx2", "default")))
void input_grad_row_unpooled(const float* x, const float* mean, const float* invstd, const float* k1,
                             const float* a, const float* b, int64_t c, float* dx) {
  for (int64_t j = 0; j < c; ++j) dx[j] = k1[j] * (-a[j] - (x[j] - mean[j]) * invstd[j] * b[j]);
}

// One pooling window in eval mode: relu(max of the four rows times scale plus shift).
__attribute__((target_clones("avx2", "default")))
void pool_window_eval(const float* r00, const float* r01, const float* r10, const float* r11, const float* scale,
                      const float* shift, int64_t c, float* out) {
  for (int64_t j = 0; j < c; ++j) {
    float v = std::max(std::max(r00[j] * scale[j] + shift[j], r01[j] * scale[j] + shift[j]),
                       std::max(r10[j] * scale[j] + shift[j], r11[j] * scale[j] + shift[j]));
    out[j] = v > 0 ? v : 0;
  }
}

struct BnPoolRelu : public torch::autograd::Function<BnPoolRelu> {
  static Tensor forward(AutogradContext* ctx, Tensor x, Tensor weight, Tensor bias, Tensor running_mean,
                        Tensor running_var, Tensor num_batches_tracked, double momentum, double eps) {
    x = x.contiguous(torch::MemoryFormat::ChannelsLast);
    const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), ho = h / 2, wo = w / 2;
    const int64_t rows = n * h * w;
    const float* xp = x.data_ptr<float>();

    auto partial = torch::zeros({kParts, 2, c}, torch::kFloat64);
    double* pp = partial.data_ptr<double>();
    at::parallel_for(0, kParts, 1, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p)
        accumulate_moments(xp, rows * p / kParts, rows * (p + 1) / kParts, c, pp + p * 2 * c, pp + p * 2 * c + c);
    });
    // With a batch split, the moments and the row count are those of the whole batch.
    const BatchSplit* split = current_batch_split();
    auto sums = partial.sum(0);  // (2, C)
    const auto moments = whole_batch_moments(split, sums[0], sums[1], double(rows), running_mean, running_var,
                                             num_batches_tracked, momentum);
    const double all_rows = moments.rows;
    const auto &mean64 = moments.mean, &var64 = moments.var;
    auto mean = mean64.to(torch::kFloat32), invstd = (var64 + eps).rsqrt().to(torch::kFloat32);
    auto scale = (weight.detach() * invstd).contiguous(), shift = (bias.detach() - mean * scale).contiguous();

    auto out = torch::empty({n, c, ho, wo}, x.options().memory_format(torch::MemoryFormat::ChannelsLast));
    auto winner = torch::empty({n * ho * wo * c}, torch::kUInt8);
    auto xhat = torch::empty({n * ho * wo * c}, torch::kFloat32);
    float* op = out.data_ptr<float>();
    float* xh = xhat.data_ptr<float>();
    uint8_t* wp = winner.data_ptr<uint8_t>();
    const float *sc = scale.data_ptr<float>(), *sh = shift.data_ptr<float>();
    const float *mp = mean.data_ptr<float>(), *ip = invstd.data_ptr<float>();
    at::parallel_for(0, n * ho, 1, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t b = r / ho, y = r % ho;
        for (int64_t xo = 0; xo < wo; ++xo) {
          const float* r00 = xp + ((b * h + 2 * y) * w + 2 * xo) * c;
          const int64_t o = (r * wo + xo) * c;
          pool_window(r00, r00 + c, r00 + w * c, r00 + w * c + c, sc, sh, mp, ip, c, op + o, wp + o, xh + o);
        }
      }
    });
    ctx->save_for_backward({x, weight, out, winner, xhat, mean, invstd});
    ctx->saved_data["all_rows"] = all_rows;
    save_split(ctx, split);
    return out;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    auto x = saved[0], weight = saved[1], out = saved[2], winner = saved[3], xhat = saved[4];
    auto mean = saved[5], invstd = saved[6];
    auto g = grads[0].contiguous(torch::MemoryFormat::ChannelsLast);
    const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), ho = h / 2, wo = w / 2;
    const int64_t pooled = n * ho * wo;
    const float *gp = g.data_ptr<float>(), *op = out.data_ptr<float>(), *xh = xhat.data_ptr<float>();

    auto partial = torch::zeros({kParts, 2, c}, torch::kFloat64);
    double* pp = partial.data_ptr<double>();
    at::parallel_for(0, kParts, 1, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p)
        accumulate_grad_sums(gp, op, xh, pooled * p / kParts, pooled * (p + 1) / kParts, c, pp + p * 2 * c,
                             pp + p * 2 * c + c);
    });
    // Weight and bias get this slice's sums (the split's gradients are added up later); the
    // input gradient needs the whole batch's.
    auto local = partial.sum(0);  // (2, C): sum dy, sum dy * xhat
    Tensor grad_weight = local[1].to(torch::kFloat32), grad_bias = local[0].to(torch::kFloat32), grad_x;
    const auto split = saved_split(ctx);
    auto sums = sum_over_split(split ? &*split : nullptr, local).to(torch::kFloat32);
    const double all_rows = ctx->saved_data["all_rows"].toDouble();

    if (ctx->needs_input_grad(0)) {
      grad_x = torch::empty_like(x, x.options().memory_format(torch::MemoryFormat::ChannelsLast));
      auto k1 = (weight.detach() * invstd).contiguous();
      auto a = (sums[0] / all_rows).contiguous(), b = (sums[1] / all_rows).contiguous();
      const float *xp = x.data_ptr<float>(), *mp = mean.data_ptr<float>(), *ip = invstd.data_ptr<float>();
      const float *kp = k1.data_ptr<float>(), *ap = a.data_ptr<float>(), *bp = b.data_ptr<float>();
      const uint8_t* wp = winner.data_ptr<uint8_t>();
      float* dx = grad_x.data_ptr<float>();
      at::parallel_for(0, n * h, 1, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const int64_t bi = r / h, y = r % h;
          for (int64_t xi = 0; xi < w; ++xi) {
            const int64_t i = (r * w + xi) * c;
            if (y / 2 < ho && xi / 2 < wo) {
              const int64_t o = ((bi * ho + y / 2) * wo + xi / 2) * c;
              input_grad_row(xp + i, gp + o, op + o, wp + o, (y % 2) * 2 + xi % 2, mp, ip, kp, ap, bp, c, dx + i);
            } else {
              input_grad_row_unpooled(xp + i, mp, ip, kp, ap, bp, c, dx + i);
            }
          }
        }
      });
    }
    return {grad_x, grad_weight, grad_bias, Tensor(), Tensor(), Tensor(), Tensor(), Tensor()};
  }
};
}  // namespace

torch::Tensor bn_pool_relu_train(const torch::Tensor& x, torch::nn::BatchNorm2dImpl& bn) {
  TORCH_CHECK(x.dim() == 4 && x.scalar_type() == torch::kFloat32 && x.device().is_cpu(),
              "bn_pool_relu_train: expected a float32 CPU tensor (B, C, H, W), got ", x.sizes());
  TORCH_CHECK(bn.options.affine() && bn.options.track_running_stats(),
              "bn_pool_relu_train: needs an affine BatchNorm2d that tracks running statistics");
  const auto& momentum = bn.options.momentum();
  return BnPoolRelu::apply(x, bn.weight, bn.bias, bn.running_mean, bn.running_var, bn.num_batches_tracked,
                           momentum ? *momentum : -1.0, bn.options.eps());
}

torch::Tensor bn_pool_relu_eval(const torch::Tensor& x_in, const torch::nn::BatchNorm2dImpl& bn) {
  TORCH_CHECK(x_in.dim() == 4 && x_in.scalar_type() == torch::kFloat32 && x_in.device().is_cpu(),
              "bn_pool_relu_eval: expected a float32 CPU tensor (B, C, H, W), got ", x_in.sizes());
  torch::NoGradGuard ng;
  auto x = x_in.contiguous(torch::MemoryFormat::ChannelsLast);
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), ho = h / 2, wo = w / 2;
  auto scale = (bn.weight / (bn.running_var + bn.options.eps()).sqrt()).contiguous();
  auto shift = (bn.bias - bn.running_mean * scale).contiguous();
  auto out = torch::empty({n, c, ho, wo}, x.options().memory_format(torch::MemoryFormat::ChannelsLast));
  const float *xp = x.data_ptr<float>(), *sc = scale.data_ptr<float>(), *sh = shift.data_ptr<float>();
  float* op = out.data_ptr<float>();
  at::parallel_for(0, n * ho, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / ho, y = r % ho;
      for (int64_t xo = 0; xo < wo; ++xo) {
        const float* r00 = xp + ((b * h + 2 * y) * w + 2 * xo) * c;
        pool_window_eval(r00, r00 + c, r00 + w * c, r00 + w * c + c, sc, sh, c, op + (r * wo + xo) * c);
      }
    }
  });
  return out;
}

}  // namespace pdiff
