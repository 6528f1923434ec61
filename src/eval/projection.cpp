#include "eval/projection.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>

#include "core/error.h"
#include "io/mapped_file.h"
#include "core/progress.h"

namespace pdiff {

namespace {

// Checks x is a finite (N, D) floating tensor and returns it as a contiguous CPU double tensor.
torch::Tensor as_points(const torch::Tensor& x, const std::string& what) {
  check(x.defined() && x.dim() == 2,
        what + ": expected a 2-D tensor of points (N, D), got " +
            (x.defined() ? std::to_string(x.dim()) + "-D" : std::string("an undefined tensor")) +
            "; stack the vectors with torch::stack first");
  check(x.is_floating_point(), what + ": expected a floating-point tensor, got " +
                                   std::string(c10::toString(x.scalar_type())));
  torch::Tensor xd = x.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  check(xd.numel() == 0 || torch::isfinite(xd).all().item<bool>(),
        what + ": the points contain NaN or Inf; drop the broken vectors before projecting");
  return xd;
}

// Pairwise squared Euclidean distances (N, N) of the rows of x (double), diagonal exactly 0.
torch::Tensor squared_distances(const torch::Tensor& x) {
  torch::Tensor sq = x.square().sum(1);
  torch::Tensor d = (sq.unsqueeze(1) + sq.unsqueeze(0)).addmm_(x, x.t(), 1.0, -2.0);
  d.clamp_min_(0.0);
  d.fill_diagonal_(0.0);
  return d;
}

// Row-conditional affinities p_{j|i} (N, N) whose entropies match log(perplexity): a bisection
// on the precision beta_i = 1 / (2 sigma_i^2), done for all rows at once.
torch::Tensor conditional_affinities(const torch::Tensor& d2, double perplexity) {
  const int64_t n = d2.size(0);
  const double log_u = std::log(perplexity);
  torch::Tensor eye = torch::eye(n, torch::TensorOptions().dtype(torch::kBool));
  // Shift each row by its smallest off-diagonal distance: p_{j|i} and the entropy do not change,
  // and the nearest neighbour always gets exp(0) = 1, so no row underflows to all zeros.
  torch::Tensor row_min = d2.masked_fill(eye, std::numeric_limits<double>::infinity()).amin(1);
  torch::Tensor ds = (d2 - row_min.unsqueeze(1)).masked_fill_(eye, 0.0);
  torch::Tensor off = (~eye).to(torch::kFloat64);

  torch::Tensor beta = 1.0 / (ds.sum(1) / static_cast<double>(n - 1) + 1e-12);
  torch::Tensor beta_min = torch::zeros({n}, torch::kFloat64);
  torch::Tensor beta_max = torch::full({n}, std::numeric_limits<double>::infinity(), torch::kFloat64);
  torch::Tensor p;
  for (int it = 0; it < 200; ++it) {
    p = torch::exp(-ds * beta.unsqueeze(1)).mul_(off);
    torch::Tensor sum_p = p.sum(1);
    torch::Tensor h = torch::log(sum_p) + beta * (ds * p).sum(1) / sum_p;
    torch::Tensor diff = h - log_u;
    if (diff.abs().max().item<double>() < 1e-5) break;
    torch::Tensor up = diff > 0;  // entropy too high: sharpen (increase beta)
    beta_min = torch::where(up, beta, beta_min);
    beta_max = torch::where(up, beta_max, beta);
    torch::Tensor beta_up = torch::where(torch::isinf(beta_max), beta * 2.0, (beta + beta_max) / 2.0);
    torch::Tensor beta_down = torch::where(beta_min == 0, beta / 2.0, (beta + beta_min) / 2.0);
    beta = torch::where(up, beta_up, beta_down);
  }
  p = torch::exp(-ds * beta.unsqueeze(1)).mul_(off);
  return p / p.sum(1, /*keepdim=*/true);
}

}  // namespace

torch::Tensor pca_2d(const torch::Tensor& x) {
  torch::Tensor xd = as_points(x, "pca_2d");
  const int64_t n = xd.size(0), d = xd.size(1);
  torch::Tensor out = torch::zeros({n, 2}, torch::kFloat64);
  if (n < 2 || d == 0) return out.to(torch::kFloat32);
  torch::Tensor xc = xd - xd.mean(0, /*keepdim=*/true);

  const int64_t k = std::min<int64_t>(2, std::min(n, d));
  torch::Tensor loadings;  // (D, k): principal directions
  torch::Tensor values;    // (k): variances (eigenvalues of xc^T xc), descending
  if (d <= n) {
    auto [vals, vecs] = torch::linalg_eigh(torch::mm(xc.t(), xc), "L");
    values = vals.slice(0, d - k, d).flip(0);
    loadings = vecs.slice(1, d - k, d).flip(1);
  } else {
    // Gram route: xc xc^T = U L U^T, so the directions are xc^T U / sqrt(L).
    auto [vals, vecs] = torch::linalg_eigh(torch::mm(xc, xc.t()), "L");
    values = vals.slice(0, n - k, n).flip(0);
    torch::Tensor u = vecs.slice(1, n - k, n).flip(1);
    loadings = torch::mm(xc.t(), u) / values.clamp_min(1e-300).sqrt().unsqueeze(0);
  }
  const double top = std::max(values[0].item<double>(), 0.0);
  for (int64_t j = 0; j < k; ++j) {
    // A direction with (numerically) no variance is noise: leave its column zero.
    if (values[j].item<double>() <= 1e-12 * top || top == 0.0) continue;
    torch::Tensor v = loadings.select(1, j);
    v = v / v.norm();
    int64_t idx = v.abs().argmax().item<int64_t>();
    if (v[idx].item<double>() < 0) v = -v;
    out.select(1, j).copy_(torch::mv(xc, v));
  }
  return out.to(torch::kFloat32);
}

torch::Tensor tsne_2d(const torch::Tensor& x, double perplexity, int64_t iterations, uint64_t seed) {
  torch::Tensor xd = as_points(x, "tsne_2d");
  check(xd.size(0) <= 20000, "tsne_2d: " + std::to_string(xd.size(0)) +
                                 " points is too many for exact t-SNE (memory and time grow as N^2); "
                                 "subsample to at most 20000 points");
  return tsne_2d_of_distances(squared_distances(xd), perplexity, iterations, seed);
}

torch::Tensor tsne_2d_of_distances(const torch::Tensor& d2, double perplexity, int64_t iterations, uint64_t seed) {
  check(d2.dim() == 2 && d2.size(0) == d2.size(1), "tsne_2d: expected a square matrix of squared distances");
  check(perplexity > 0 && std::isfinite(perplexity),
        "tsne_2d: perplexity must be a positive number, got " + std::to_string(perplexity) +
            " (typical values are 5 to 50)");
  check(iterations >= 0, "tsne_2d: iterations must be >= 0, got " + std::to_string(iterations));
  const int64_t n = d2.size(0);
  if (n < 2) return torch::zeros({n, 2}, torch::kFloat32);

  torch::NoGradGuard no_grad;
  // Perplexity is the effective number of neighbours; it cannot exceed what the data offers.
  const double perp = std::max(1.0, std::min(perplexity, static_cast<double>(n - 1) / 3.0));

  // Joint affinities P: symmetrised conditionals, normalised, floored at 1e-12 off-diagonal.
  torch::Tensor p_cond = conditional_affinities(d2.to(torch::kFloat64), perp);
  torch::Tensor p = p_cond + p_cond.t();
  p = (p / p.sum()).clamp_min_(1e-12);
  p.fill_diagonal_(0.0);
  const torch::Tensor p_sum_logp = torch::xlogy(p, p).sum();  // for the KL shown in the progress
  torch::Tensor pf = p.to(torch::kFloat32);
  const double exaggeration = 12.0;
  const int64_t exaggeration_iters = 250;

  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  torch::Tensor y = (torch::randn({n, 2}, gen, torch::TensorOptions().dtype(torch::kFloat64)) * 1e-4)
                        .to(torch::kFloat32);
  torch::Tensor update = torch::zeros_like(y);
  torch::Tensor gains = torch::ones_like(y);
  const double lr = std::max(static_cast<double>(n) / exaggeration / 4.0, 50.0);
  const double min_gain = 0.01;

  // N x N work buffers, reused every iteration. The N^2 work is elementwise torch ops rather
  // than skinny matrix products: BLAS threads on a busy machine made those ~10x slower.
  auto buffer = [n] { return torch::empty({n, n}, torch::kFloat32); };
  torch::Tensor w = buffer();   // Student-t kernel 1 / (1 + |yi - yj|^2), zero diagonal
  torch::Tensor m = buffer();   // (exaggeration * P - Q) * kernel, up to a factor
  torch::Tensor d0 = buffer();  // yi - yj per coordinate
  torch::Tensor d1 = buffer();
  std::optional<Progress> progress;
  if (n > 300) progress.emplace("t-SNE", iterations, "it");
  std::string kl_text;
  for (int64_t it = 0; it < iterations; ++it) {
    const bool early = it < exaggeration_iters;
    const double exag = early ? exaggeration : 1.0;
    const double momentum = early ? 0.5 : 0.8;

    torch::Tensor y0 = y.select(1, 0).contiguous(), y1 = y.select(1, 1).contiguous();
    torch::sub_out(d0, y0.unsqueeze(1), y0.unsqueeze(0));
    torch::sub_out(d1, y1.unsqueeze(1), y1.unsqueeze(0));
    torch::mul_out(w, d0, d0);
    w.addcmul_(d1, d1).add_(1.0).reciprocal_();
    w.fill_diagonal_(0.0);
    const double w_sum = w.sum().item<double>();

    // Gradient of KL(P || Q): 4 sum_j (exag p_ij - q_ij) w_ij (yi - yj), q_ij = w_ij / sum(w);
    // computed as 4 exag sum_j (p_ij - w_ij / (exag sum(w))) w_ij (yi - yj).
    torch::sub_out(m, pf, w, 1.0 / (w_sum * exag));
    m.mul_(w);
    torch::Tensor grad = torch::stack({d0.mul_(m).sum(1), d1.mul_(m).sum(1)}, 1).mul_(4.0 * exag);

    torch::Tensor same_sign = (grad > 0) == (update > 0);
    gains = torch::where(same_sign, gains * 0.8, gains + 0.2).clamp_min_(min_gain);
    update = update * momentum - lr * gains * grad;
    y = y + update;
    y = y - y.mean(0, /*keepdim=*/true);

    if (progress) {
      if ((it + 1) % 50 == 0 || it + 1 == iterations) {
        // KL(P || Q) with the true P, from the kernel of this step's starting point.
        double kl = p_sum_logp.item<double>() -
                    torch::xlogy(pf, w).sum().item<double>() + std::log(w_sum) * pf.sum().item<double>();
        char buf[48];
        std::snprintf(buf, sizeof buf, "KL %.4f", kl);
        kl_text = buf;
      }
      progress->tick(1, kl_text);
    }
  }
  if (progress) progress->finish(kl_text);
  return y.contiguous();
}

torch::Tensor standardised_gram(const std::vector<torch::Tensor>& groups) {
  int64_t n = 0, d = -1;
  for (const auto& g : groups) {
    check(g.dim() == 2 && (d < 0 || g.size(1) == d), "standardised_gram: groups of (M, D) points with one D");
    n += g.size(0), d = g.size(1);
  }
  auto gram = torch::zeros({n, n}, torch::kFloat64);
  if (n == 0) return gram;
  const int64_t width = std::max<int64_t>(1, (int64_t(1) << 23) / n);  // 64 MB of float64 a chunk
  for (int64_t c0 = 0; c0 < d; c0 += width) {
    const int64_t c1 = std::min(d, c0 + width);
    std::vector<torch::Tensor> parts;
    for (const auto& g : groups) parts.push_back(g.slice(1, c0, c1).to(torch::kFloat64));
    auto x = torch::cat(parts);
    x = (x - x.mean(0)) / (n > 1 ? x.std(0) : torch::ones({c1 - c0}, torch::kFloat64)).clamp_min(1e-12);
    gram.addmm_(x, x.t());
    for (const auto& g : groups) release_column_pages(g, c0, c1);  // a zoo on disk stays there
  }
  return gram;
}

torch::Tensor squared_distances_of_gram(const torch::Tensor& gram) {
  auto diag = gram.diagonal();
  auto d2 = (diag.unsqueeze(1) + diag.unsqueeze(0) - 2 * gram).clamp_min_(0.0);
  d2.fill_diagonal_(0.0);
  return d2;
}

torch::Tensor pca_2d_of_gram(const torch::Tensor& gram) {
  check(gram.dim() == 2 && gram.size(0) == gram.size(1), "pca_2d_of_gram: expected a square Gram matrix");
  const int64_t n = gram.size(0);
  torch::Tensor out = torch::zeros({n, 2}, torch::kFloat64);
  if (n < 2) return out.to(torch::kFloat32);
  auto [vals, vecs] = torch::linalg_eigh(gram.to(torch::kFloat64), "L");
  const int64_t k = std::min<int64_t>(2, n);
  const double top = std::max(vals[n - 1].item<double>(), 0.0);
  for (int64_t j = 0; j < k; ++j) {
    const double value = vals[n - 1 - j].item<double>();
    if (value <= 1e-12 * top || top == 0.0) continue;  // no variance along it: leave it zero
    torch::Tensor score = vecs.select(1, n - 1 - j) * std::sqrt(value);
    if (score[score.abs().argmax().item<int64_t>()].item<double>() < 0) score = -score;
    out.select(1, j).copy_(score);
  }
  return out.to(torch::kFloat32);
}

}  // namespace pdiff
