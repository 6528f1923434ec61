// zoo.align_rounds over a zoo being collected (zoo.mode=scratch): the rounds of
// align_round_to_average (zoo/zoo_alignment.h) streamed over the rows file, a round at a time,
// so that the zoo is never in memory (a row, the sum and the reference are), and resumable by
// round: each round writes its rows to a second file, which replaces the first once the caller's
// resume state counts the round.
#pragma once
#include <functional>
#include <optional>
#include <string>

#include "io/rows_writer.h"
#include "zoo/zoo_alignment.h"

namespace pdiff {

// Rounds first_round .. rounds-1 over the K rows `rows` holds at `rows_path` (its writer,
// reopened on the new file after each round). count_round(n) must record that n rounds are
// done, durably, before the round's file replaces the previous one. Stops early at a round that
// permutes nothing.
void align_rows_file_to_average(const RowAligner& aligner, int64_t rounds, int64_t first_round,
                                const std::string& rows_path, std::optional<RowsWriter>& rows,
                                const std::function<void(int64_t)>& count_round);

// On resuming with `rounds_done` rounds counted: the file of the last counted round, if a kill
// left it before it replaced the rows file, replaces it now; a round cut short is deleted.
void resume_rows_file_rounds(const std::string& rows_path, int64_t rounds_done);

}  // namespace pdiff
