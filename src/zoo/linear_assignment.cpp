#include "zoo/linear_assignment.h"

#include <limits>

#include "core/error.h"

namespace pdiff {

std::vector<int64_t> max_weight_assignment(const torch::Tensor& score) {
  check(score.dim() == 2 && score.size(0) == score.size(1),
        "linear assignment: the score matrix must be square, got sizes " + c10::str(score.sizes()));
  const int64_t n = score.size(0);
  if (n == 0) return {};
  const torch::Tensor s = score.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  check(torch::isfinite(s).all().item<bool>(), "linear assignment: the score matrix holds a NaN or an infinity");
  // Minimise cost = -score. Rows and columns are 1-based below; index 0 is the virtual start.
  const double* a = s.data_ptr<double>();
  auto cost = [&](int64_t row, int64_t col) { return -a[(row - 1) * n + (col - 1)]; };
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> u(n + 1, 0.0), v(n + 1, 0.0);   // row and column potentials
  std::vector<int64_t> row_of(n + 1, 0), came_from(n + 1, 0);  // column -> its row; path back
  for (int64_t row = 1; row <= n; ++row) {
    // Grow a tree of tight edges from `row` until it reaches a free column (Dijkstra on
    // reduced costs), then flip the path.
    row_of[0] = row;
    int64_t col = 0;
    std::vector<double> slack(n + 1, inf);
    std::vector<char> used(n + 1, 0);
    do {
      used[col] = 1;
      const int64_t r = row_of[col];
      double delta = inf;
      int64_t next = 0;
      for (int64_t j = 1; j <= n; ++j) {
        if (used[j]) continue;
        const double reduced = cost(r, j) - u[r] - v[j];
        if (reduced < slack[j]) slack[j] = reduced, came_from[j] = col;
        if (slack[j] < delta) delta = slack[j], next = j;
      }
      for (int64_t j = 0; j <= n; ++j) {
        if (used[j]) u[row_of[j]] += delta, v[j] -= delta;
        else slack[j] -= delta;
      }
      col = next;
    } while (row_of[col] != 0);
    do {  // augment along the path back to the virtual start
      const int64_t prev = came_from[col];
      row_of[col] = row_of[prev];
      col = prev;
    } while (col != 0);
  }
  std::vector<int64_t> assignment(n);
  for (int64_t j = 1; j <= n; ++j) assignment[row_of[j] - 1] = j - 1;
  return assignment;
}

}  // namespace pdiff
