#include "eval/distance.h"

#include <algorithm>

#include "core/error.h"
#include "io/mapped_file.h"

namespace pdiff {

namespace {
// float64 elements of one chunk of both inputs together: 64 MB.
constexpr int64_t kChunkElements = int64_t{1} << 23;
}  // namespace

torch::Tensor param_distances(const std::vector<torch::Tensor>& a_blocks, const torch::Tensor& b,
                              const torch::Tensor& scale, int64_t chunk_columns) {
  check(!a_blocks.empty() && b.dim() == 2, "param_distances: expected (A, D) blocks and (B, D) parameters");
  int64_t rows_a = 0;
  for (const auto& a : a_blocks) {
    check(a.dim() == 2 && a.size(1) == b.size(1),
          "param_distances: expected (A, D) and (B, D) parameters, got " + c10::str(a.sizes()) + " and " +
              c10::str(b.sizes()));
    rows_a += a.size(0);
  }
  const int64_t rows_b = b.size(0), dim = b.size(1);
  check(!scale.defined() || scale.numel() == dim,
        "param_distances: scale has " + std::to_string(scale.defined() ? scale.numel() : 0) + " entries for " +
            std::to_string(dim) + " coordinates");
  auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  auto sq = torch::zeros({rows_a, rows_b}, f64);
  if (rows_a == 0 || rows_b == 0) return sq;
  const int64_t chunk =
      chunk_columns > 0 ? chunk_columns : std::max<int64_t>(1, kChunkElements / (rows_a + rows_b));
  // At large D and few rows the chunks' element-wise passes are the cost (memory-bound): they
  // run in place on one copy, and the distances of a set to itself read it once.
  const bool same = a_blocks.size() == 1 && a_blocks[0].is_same(b);
  auto as_f64_copy = [](const torch::Tensor& t) { return t.to(torch::kFloat64, /*non_blocking=*/false, /*copy=*/true); };
  for (int64_t c0 = 0; c0 < dim; c0 += chunk) {
    const int64_t c1 = std::min(dim, c0 + chunk);
    torch::Tensor x = torch::empty({rows_a, c1 - c0}, f64), s;  // (A, c): the blocks' rows in order
    int64_t r0 = 0;
    for (const auto& a : a_blocks) {
      x.slice(0, r0, r0 + a.size(0)).copy_(a.slice(1, c0, c1));
      r0 += a.size(0);
    }
    if (scale.defined()) x.div_(s = scale.flatten().slice(0, c0, c1).to(torch::kFloat64));
    torch::Tensor y = x;  // (B, c)
    if (!same) {
      y = as_f64_copy(b.slice(1, c0, c1));
      if (s.defined()) y.div_(s);
    }
    // Centred on b's mean: a row's distances depend on that row and b alone, not on the rows
    // measured with it (a baseline's figures do not move with the generated models').
    const torch::Tensor centre = y.mean(0);
    x.sub_(centre);
    if (!same) y.sub_(centre);
    const torch::Tensor x_sq = x.pow(2).sum(1, true);
    sq += x_sq + (same ? x_sq.t() : y.pow(2).sum(1).unsqueeze(0));
    sq.addmm_(x, y.t(), /*beta=*/1, /*alpha=*/-2);
    for (const auto& a : a_blocks) release_column_pages(a, c0, c1);  // a zoo read from disk stays there
    release_column_pages(b, c0, c1);
  }
  return sq.clamp_min_(0).sqrt_();
}

torch::Tensor param_distances(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& scale,
                              int64_t chunk_columns) {
  return param_distances(std::vector<torch::Tensor>{a}, b, scale, chunk_columns);
}

torch::Tensor param_self_distances(const torch::Tensor& a, const torch::Tensor& scale) {
  auto d = param_distances(a, a, scale);
  d = (d + d.t()) / 2;  // a + b == b + a exactly: the result is symmetric bit for bit
  d.diagonal().zero_();
  return d;
}

torch::Tensor prediction_distances(const torch::Tensor& wrong_a, const torch::Tensor& wrong_b) {
  check(wrong_a.dim() == 2 && wrong_b.dim() == 2 && wrong_a.size(1) == wrong_b.size(1),
        "prediction_distances: expected (A, N) and (B, N) wrong sets, got " + c10::str(wrong_a.sizes()) + " and " +
            c10::str(wrong_b.sizes()));
  // Counts are sums of 0/1 floats: exact in float32 below 2^24 test images.
  check(wrong_a.size(1) < (int64_t{1} << 24), "prediction_distances: more than 2^24 test images");
  auto a = wrong_a.to(torch::kFloat32), b = wrong_b.to(torch::kFloat32);
  auto inter = torch::mm(a, b.t()).to(torch::kFloat64);
  auto uni = a.sum(1, true).to(torch::kFloat64) + b.sum(1).unsqueeze(0).to(torch::kFloat64) - inter;
  return torch::where(uni > 0, 1.0 - inter / uni.clamp_min(1), torch::zeros_like(inter));
}

}  // namespace pdiff
