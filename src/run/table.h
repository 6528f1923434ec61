// `pdiff table`: several experiments one after another with `pdiff run`'s machinery (stages that
// are current are skipped), then one table of them in the style of the paper's Table 1:
// OUT/table.md and OUT/table.json.
#pragma once
#include <string>
#include <vector>

namespace pdiff {

struct TableArgs {
  std::vector<std::string> configs;    // YAML files, one row each
  std::vector<std::string> overrides;  // section.key=value, applied to every config
  std::string out_dir = "runs/table";
  std::string command;                 // the command line, written under the table
};

// Loads every config first: bad input (a missing file, a bad key, two configs sharing a
// run_dir) throws before anything runs or is written. A config that fails while running is
// reported and left out; the table is rewritten after every config so no finished row is lost.
// Returns the number of configs that failed.
int run_table(const TableArgs& args);

// `words` as one shell command line, quoting the words that need it.
std::string shell_command(const std::vector<std::string>& words);

}  // namespace pdiff
