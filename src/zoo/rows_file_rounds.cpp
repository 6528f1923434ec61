#include "zoo/rows_file_rounds.h"

#include <cstdio>

#include "core/error.h"
#include "core/progress.h"
#include "io/file_io.h"

namespace pdiff {

namespace {
// Where round `round` writes the zoo's rows.
std::string round_rows_path(const std::string& rows_path, int64_t round) {
  return rows_path + ".round" + std::to_string(round);
}
}  // namespace

void align_rows_file_to_average(const RowAligner& aligner, int64_t rounds, int64_t first_round,
                                const std::string& rows_path, std::optional<RowsWriter>& rows,
                                const std::function<void(int64_t)>& count_round) {
  const int64_t K = rows->rows(), D = rows->written().size(1);
  for (int64_t round = first_round; round < rounds; ++round) {
    const Stopwatch timer;
    const torch::Tensor current = rows->written();
    const std::string next_path = round_rows_path(rows_path, round + 1);
    int64_t changed = 0;
    {
      RowsWriter next(next_path, K, D);
      changed = align_round_to_average(aligner, K, [&](int64_t i) { return current[i]; },
                                       [&](int64_t, const torch::Tensor& row) { next.append(row); });
    }
    count_round(round + 1);
    rows.reset();
    if (std::rename(next_path.c_str(), rows_path.c_str()) != 0)
      throw Error(rows_path + ": write failed (cannot rename " + next_path + ")");
    rows.emplace(rows_path, K, D, K);
    report_average_round(round, rounds, changed, K, timer.seconds());  // once the round counts
    if (changed == 0) break;  // a fixed point: later rounds would change nothing either
  }
}

void resume_rows_file_rounds(const std::string& rows_path, int64_t rounds_done) {
  const std::string counted = round_rows_path(rows_path, rounds_done);
  if (rounds_done > 0 && file_exists(counted) && std::rename(counted.c_str(), rows_path.c_str()) != 0)
    throw Error(rows_path + ": cannot rename " + counted + " to it; delete both to start over");
  std::remove(round_rows_path(rows_path, rounds_done + 1).c_str());
}

}  // namespace pdiff
