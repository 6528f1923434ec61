#include "kernels/affine_relu.h"

#include <ATen/Parallel.h>

namespace pdiff {

namespace {
__attribute__((target_clones("avx2", "default")))
void pooled_affine_relu_row(const float* max_row, const float* min_row, const float* scale, const float* shift,
                            int64_t c, float* out) {
  for (int64_t j = 0; j < c; ++j) {
    float v = (scale[j] >= 0 ? max_row[j] : min_row[j]) * scale[j] + shift[j];
    out[j] = v > 0 ? v : 0;
  }
}

__attribute__((target_clones("avx2", "default")))
void affine_relu_accumulate(const float* y, const float* scale, const float* shift, int64_t c, float* sum) {
  for (int64_t j = 0; j < c; ++j) {
    float v = y[j] * scale[j] + shift[j];
    sum[j] += v > 0 ? v : 0;
  }
}

void check_vectors(const torch::Tensor& scale, const torch::Tensor& shift, int64_t c) {
  TORCH_CHECK(scale.numel() == c && shift.numel() == c, "affine_relu: expected ", c, " scales and shifts");
}
}  // namespace

torch::Tensor pooled_affine_relu(const torch::Tensor& pooled_in, const torch::Tensor& scale_in,
                                 const torch::Tensor& shift_in) {
  TORCH_CHECK(pooled_in.dim() == 3 && pooled_in.size(2) % 2 == 0 && pooled_in.scalar_type() == torch::kFloat32,
              "pooled_affine_relu: expected float32 (P, B, 2C), got ", pooled_in.sizes());
  const int64_t rows = pooled_in.size(0) * pooled_in.size(1), c = pooled_in.size(2) / 2;
  check_vectors(scale_in, shift_in, c);
  auto pooled = pooled_in.contiguous();
  auto scale = scale_in.to(torch::kFloat32).contiguous(), shift = shift_in.to(torch::kFloat32).contiguous();
  auto out = torch::empty({pooled.size(0), pooled.size(1), c}, pooled.options());
  const float *pp = pooled.data_ptr<float>(), *sc = scale.data_ptr<float>(), *sh = shift.data_ptr<float>();
  float* op = out.data_ptr<float>();
  at::parallel_for(0, rows, 256, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) pooled_affine_relu_row(pp + r * 2 * c, pp + r * 2 * c + c, sc, sh, c, op + r * c);
  });
  return out;
}

torch::Tensor affine_relu_mean(const torch::Tensor& y_in, const torch::Tensor& scale_in, const torch::Tensor& shift_in) {
  TORCH_CHECK(y_in.dim() == 3 && y_in.scalar_type() == torch::kFloat32,
              "affine_relu_mean: expected float32 (P, B, C), got ", y_in.sizes());
  const int64_t p = y_in.size(0), b = y_in.size(1), c = y_in.size(2);
  check_vectors(scale_in, shift_in, c);
  auto y = y_in.contiguous();
  auto scale = scale_in.to(torch::kFloat32).contiguous(), shift = shift_in.to(torch::kFloat32).contiguous();
  auto out = torch::zeros({b, c}, y.options());
  const float *yp = y.data_ptr<float>(), *sc = scale.data_ptr<float>(), *sh = shift.data_ptr<float>();
  float* op = out.data_ptr<float>();
  at::parallel_for(0, b, 16, [&](int64_t b0, int64_t b1) {
    for (int64_t i = b0; i < b1; ++i) {
      for (int64_t k = 0; k < p; ++k) affine_relu_accumulate(yp + (k * b + i) * c, sc, sh, c, op + i * c);
      for (int64_t j = 0; j < c; ++j) op[i * c + j] /= float(p);
    }
  });
  return out;
}

}  // namespace pdiff
