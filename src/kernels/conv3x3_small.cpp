#include "kernels/conv3x3_small.h"

#include <cmath>

namespace pdiff {

torch::Tensor conv3x3_taps(const torch::Tensor& w) { return w.permute({2, 3, 1, 0}).contiguous(); }

torch::Tensor conv3x3_on_3x3_rows(const torch::Tensor& rows, const torch::Tensor& taps) {
  // Each output position sums one GEMM per valid input row; that row's valid columns are a
  // strided view of `rows`, so BLAS reads them in place (gathering them first cost a quarter
  // of the time).
  const int64_t b = rows.size(0), cin = rows.size(2), cout = taps.size(3);
  auto by_row = rows.contiguous().view({b, 3, 3 * cin});  // (B, iy, ix * Cin)
  auto out = torch::empty({9, b, cout}, rows.options());
  for (int64_t oy = 0; oy < 3; ++oy)
    for (int64_t ox = 0; ox < 3; ++ox) {
      const int64_t ix0 = std::max<int64_t>(ox - 1, 0), ix1 = std::min<int64_t>(ox + 1, 2);
      auto slot = out[oy * 3 + ox];
      bool first = true;
      for (int64_t iy = std::max<int64_t>(oy - 1, 0); iy <= std::min<int64_t>(oy + 1, 2); ++iy) {
        const int64_t ky = iy - oy + 1, kx0 = ix0 - ox + 1, width = ix1 - ix0 + 1;
        auto in = by_row.select(1, iy).slice(1, ix0 * cin, (ix1 + 1) * cin);  // (B, width * Cin)
        auto w = taps[ky].slice(0, kx0, kx0 + width).reshape({width * cin, cout});
        if (first) torch::mm_out(slot, in, w);  // written in place
        else slot.addmm_(in, w);
        first = false;
      }
    }
  return out;
}

torch::Tensor conv3x3_on_3x3(const torch::Tensor& x, const torch::Tensor& w) {
  auto rows = x.permute({0, 2, 3, 1}).reshape({x.size(0), 9, x.size(1)});
  return conv3x3_on_3x3_rows(rows, conv3x3_taps(w)).permute({1, 2, 0}).reshape({x.size(0), w.size(0), 3, 3});
}

namespace {
// Along one axis the s outputs y0..y(s-1) of a padding-1 3-tap correlation over an s-long map
// are coefficients 1..s of the product of the polynomials x0 + x1 z + ... + x(s-1) z^(s-1) and
// w2 + w1 z + w0 z^2. The product (degree s + 1) is fixed by its values at s + 2 points; the
// finite points below gave the smallest error of the sets tried, plus the point at infinity.
// The 2-D transforms are Kronecker products of the 1-D ones.
struct WinogradMatrices {
  torch::Tensor input, weight, output;  // (P^2, s^2), (P^2, 9), (s^2, P^2), P = s + 2
};

WinogradMatrices make_winograd_matrices(int64_t s) {
  static const double points3[] = {0, 1, -1, -0.5};
  static const double points4[] = {0, 1, -1, -0.5, 0.5};
  const double* points = s == 3 ? points3 : points4;
  const int64_t p = s + 2;
  auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  auto vandermonde = torch::zeros({p, p}, f64), ex = torch::zeros({p, s}, f64), ew = torch::zeros({p, 3}, f64);
  for (int64_t i = 0; i + 1 < p; ++i) {
    for (int64_t j = 0; j < p; ++j) vandermonde[i][j] = std::pow(points[i], j);
    for (int64_t j = 0; j < s; ++j) ex[i][j] = std::pow(points[i], j);
    for (int64_t j = 0; j < 3; ++j) ew[i][j] = std::pow(points[i], 2 - j);
  }
  vandermonde[p - 1][p - 1] = 1, ex[p - 1][s - 1] = 1, ew[p - 1][0] = 1;  // infinity: leading coefficients
  auto coeffs = torch::inverse(vandermonde).slice(0, 1, s + 1);
  return WinogradMatrices{torch::kron(ex, ex).to(torch::kFloat32), torch::kron(ew, ew).to(torch::kFloat32),
                          torch::kron(coeffs, coeffs).to(torch::kFloat32)};
}

const WinogradMatrices& winograd_matrices(int64_t s) {
  TORCH_CHECK(s == 3 || s == 4, "Winograd 3x3 convolution: maps of 3x3 or 4x4 only, got ", s);
  static const WinogradMatrices m3 = make_winograd_matrices(3), m4 = make_winograd_matrices(4);
  return s == 3 ? m3 : m4;
}
}  // namespace

torch::Tensor winograd_weight(const torch::Tensor& w, int64_t s) {
  const int64_t cout = w.size(0), cin = w.size(1);
  auto taps = w.permute({2, 3, 1, 0}).reshape({9, cin * cout});
  const auto& m = winograd_matrices(s);
  return torch::mm(m.weight, taps).view({m.weight.size(0), cin, cout});
}

torch::Tensor conv3x3_winograd(const torch::Tensor& x, const torch::Tensor& weight, int64_t s) {
  const auto& m = winograd_matrices(s);
  const int64_t p2 = m.input.size(0), b = x.size(1), cin = x.size(2), cout = weight.size(2);
  auto xt = torch::mm(m.input, x.reshape({s * s, b * cin})).view({p2, b, cin});
  auto products = torch::bmm(xt, weight);                                   // (P^2, B, Cout)
  return torch::mm(m.output, products.view({p2, b * cout})).view({s * s, b, cout});
}

torch::Tensor conv3x3_on_3x3_winograd(const torch::Tensor& x, const torch::Tensor& weight25) {
  return conv3x3_winograd(x, weight25, 3);
}

}  // namespace pdiff
