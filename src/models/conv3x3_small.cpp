#include "models/conv3x3_small.h"

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
// Along one axis the three outputs y0..y2 are coefficients 1..3 of the product of the
// polynomials x0 + x1 z + x2 z^2 and w2 + w1 z + w0 z^2. The product (degree 4) is fixed
// by its values at 5 points; {0, 1, -1, -1/2, infinity} gave the smallest error of the sets
// tried. The 2-D transforms are Kronecker products of the 1-D ones.
struct WinogradMatrices {
  torch::Tensor input, weight, output;  // (25, 9), (25, 9), (9, 25)
};

const WinogradMatrices& winograd_matrices() {
  static const WinogradMatrices m = [] {
    const double points[] = {0, 1, -1, -0.5};
    auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
    auto vandermonde = torch::zeros({5, 5}, f64), ex = torch::zeros({5, 3}, f64), ew = torch::zeros({5, 3}, f64);
    for (int i = 0; i < 4; ++i) {
      for (int j = 0; j < 5; ++j) vandermonde[i][j] = std::pow(points[i], j);
      for (int j = 0; j < 3; ++j) ex[i][j] = std::pow(points[i], j), ew[i][j] = std::pow(points[i], 2 - j);
    }
    vandermonde[4][4] = 1, ex[4][2] = 1, ew[4][0] = 1;  // the point at infinity: leading coefficients
    auto coeffs = torch::inverse(vandermonde).slice(0, 1, 4);
    return WinogradMatrices{torch::kron(ex, ex).to(torch::kFloat32), torch::kron(ew, ew).to(torch::kFloat32),
                            torch::kron(coeffs, coeffs).to(torch::kFloat32)};
  }();
  return m;
}
}  // namespace

torch::Tensor winograd_weight(const torch::Tensor& w) {
  const int64_t cout = w.size(0), cin = w.size(1);
  auto taps = w.permute({2, 3, 1, 0}).reshape({9, cin * cout});
  return torch::mm(winograd_matrices().weight, taps).view({25, cin, cout});
}

torch::Tensor conv3x3_on_3x3_winograd(const torch::Tensor& x, const torch::Tensor& weight25) {
  const auto& m = winograd_matrices();
  const int64_t b = x.size(1), cin = x.size(2), cout = weight25.size(2);
  auto xt = torch::mm(m.input, x.reshape({9, b * cin})).view({25, b, cin});
  auto products = torch::bmm(xt, weight25);                                 // (25, B, Cout)
  return torch::mm(m.output, products.view({25, b * cout})).view({9, b, cout});
}

}  // namespace pdiff
