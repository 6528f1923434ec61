#include "kernels/conv3x3_one_channel.h"

#include <ATen/Parallel.h>

#include <vector>

namespace pdiff {

namespace {
using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// Copies image `src` (h, w) into `pad` (h + 2, w + 2) with a zero border.
void pad_image(const float* src, int64_t h, int64_t w, float* pad) {
  const int64_t pw = w + 2;
  std::fill(pad, pad + (h + 2) * pw, 0.f);
  for (int64_t y = 0; y < h; ++y) std::copy(src + y * w, src + (y + 1) * w, pad + (y + 1) * pw + 1);
}

// out (h * w, cout) = sum over the 9 taps of the padded image's shifted pixel times taps[t]
// (cout). Taps are added in a fixed order: results do not depend on the thread count.
__attribute__((target_clones("avx2", "default")))
void forward_image(const float* pad, int64_t h, int64_t w, const float* taps, int64_t cout, float* out) {
  const int64_t pw = w + 2;
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      float* o = out + (y * w + x) * cout;
      const float* p = pad + y * pw + x;  // top-left of the 3x3 window
      const float v0 = p[0], v1 = p[1], v2 = p[2], v3 = p[pw], v4 = p[pw + 1], v5 = p[pw + 2];
      const float v6 = p[2 * pw], v7 = p[2 * pw + 1], v8 = p[2 * pw + 2];
      for (int64_t c = 0; c < cout; ++c) {
        const float* t = taps + c;
        o[c] = v0 * t[0] + v1 * t[cout] + v2 * t[2 * cout] + v3 * t[3 * cout] + v4 * t[4 * cout] +
               v5 * t[5 * cout] + v6 * t[6 * cout] + v7 * t[7 * cout] + v8 * t[8 * cout];
      }
    }
}

// acc (9, cout) = sum over the image's pixels of the shifted padded pixel times grad (cout),
// for cout a multiple of 8: eight channels at a time, the nine taps' sums held in registers.
typedef float Float8 __attribute__((vector_size(32)));

__attribute__((target_clones("avx2", "default")))
void weight_grad_image(const float* __restrict__ pad, int64_t h, int64_t w, const float* __restrict__ grad,
                       int64_t cout, float* __restrict__ acc) {
  const int64_t pw = w + 2;
  for (int64_t c0 = 0; c0 < cout; c0 += 8) {
    Float8 a[9] = {};
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        Float8 g;
        __builtin_memcpy(&g, grad + (y * w + x) * cout + c0, sizeof g);
        const float* p = pad + y * pw + x;
        a[0] += p[0] * g, a[1] += p[1] * g, a[2] += p[2] * g;
        a[3] += p[pw] * g, a[4] += p[pw + 1] * g, a[5] += p[pw + 2] * g;
        a[6] += p[2 * pw] * g, a[7] += p[2 * pw + 1] * g, a[8] += p[2 * pw + 2] * g;
      }
    for (int t = 0; t < 9; ++t) __builtin_memcpy(acc + t * cout + c0, &a[t], sizeof a[t]);
  }
}

// Calls f(b, padded image b) for every image of x (B, 1, H, W) contiguous, images in parallel.
template <class F>
void for_each_padded_image(const Tensor& x, const F& f) {
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  const float* xp = x.data_ptr<float>();
  at::parallel_for(0, n, 1, [&](int64_t b0, int64_t b1) {
    std::vector<float> pad((h + 2) * (w + 2));
    for (int64_t b = b0; b < b1; ++b) {
      pad_image(xp + b * h * w, h, w, pad.data());
      f(b, pad.data());
    }
  });
}

struct Conv3x3OneChannel : public torch::autograd::Function<Conv3x3OneChannel> {
  static Tensor forward(AutogradContext* ctx, Tensor x, Tensor weight) {
    x = x.contiguous();
    const int64_t n = x.size(0), h = x.size(2), w = x.size(3), cout = weight.size(0);
    auto taps = weight.detach().reshape({cout, 9}).t().contiguous();  // (9, cout)
    auto out = torch::empty({n, cout, h, w}, x.options().memory_format(torch::MemoryFormat::ChannelsLast));
    const float* tp = taps.data_ptr<float>();
    float* op = out.data_ptr<float>();
    for_each_padded_image(x, [&](int64_t b, const float* pad) {
      forward_image(pad, h, w, tp, cout, op + b * h * w * cout);
    });
    ctx->save_for_backward({x});
    ctx->saved_data["cout"] = cout;
    return out;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto x = ctx->get_saved_variables()[0];
    const int64_t n = x.size(0), h = x.size(2), w = x.size(3), cout = ctx->saved_data["cout"].toInt();
    auto g = grads[0].contiguous(torch::MemoryFormat::ChannelsLast);  // (B, H, W, cout) in memory
    // One partial sum per image, then added in image order in float64: reproducible.
    auto per_image = torch::empty({n, 9 * cout}, torch::kFloat32);
    const float* gp = g.data_ptr<float>();
    float* pp = per_image.data_ptr<float>();
    for_each_padded_image(x, [&](int64_t b, const float* pad) {
      weight_grad_image(pad, h, w, gp + b * h * w * cout, cout, pp + b * 9 * cout);
    });
    std::vector<double> total(9 * cout, 0.0);
    for (int64_t b = 0; b < n; ++b)
      for (int64_t j = 0; j < 9 * cout; ++j) total[j] += pp[b * 9 * cout + j];
    auto grad_taps = torch::empty({9, cout}, torch::kFloat32);
    for (int64_t j = 0; j < 9 * cout; ++j) grad_taps.data_ptr<float>()[j] = float(total[j]);
    return {Tensor(), grad_taps.t().reshape({cout, 1, 3, 3})};
  }
};
}  // namespace

torch::Tensor conv3x3_one_channel(const torch::Tensor& x, const torch::Tensor& weight) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == 1 && x.scalar_type() == torch::kFloat32 && x.device().is_cpu(),
              "conv3x3_one_channel: expected a float32 CPU tensor (B, 1, H, W), got ", x.sizes());
  TORCH_CHECK(weight.dim() == 4 && weight.size(1) == 1 && weight.size(2) == 3 && weight.size(3) == 3 &&
                  weight.scalar_type() == torch::kFloat32,
              "conv3x3_one_channel: expected a float32 weight (Cout, 1, 3, 3), got ", weight.sizes());
  if (x.requires_grad() || weight.size(0) % 8 != 0) return torch::conv2d(x, weight, {}, 1, 1);
  return Conv3x3OneChannel::apply(x, weight);
}

}  // namespace pdiff
