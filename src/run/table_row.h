// One row of `pdiff table`: the figures of a finished run, read from its report.json and zoo.pt,
// in the style of the paper's Table 1, plus the quality targets and the closest baseline.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace pdiff {

// The row of the run in `run_dir` (schema in docs/formats.md, table.json). `config` names the
// YAML file it came from. Numbers are copied from report.json unchanged.
nlohmann::json table_row(const std::string& config, const std::string& run_dir);

// A report's number printed with the printf format `f` (one double), "n/a" for anything else (a
// figure the report could not compute).
std::string format_figure(const char* f, const nlohmann::json& v);

// The markdown table of `rows` (header included).
std::string table_markdown(const nlohmann::json& rows);

}  // namespace pdiff
