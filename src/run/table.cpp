#include "run/table.h"

#include <c10/util/Exception.h>

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "core/config.h"
#include "core/error.h"
#include "dist/group.h"
#include "io/file_io.h"
#include "core/run_lock.h"
#include "core/runtime.h"
#include "run/stage_options.h"
#include "run/run.h"
#include "run/table_row.h"

namespace pdiff {

namespace {

using json = nlohmann::json;

struct TableJob {
  std::string path;
  Config cfg;
};

std::vector<TableJob> load_configs(const TableArgs& args) {
  check(!args.configs.empty(), "pdiff table: no config file given; name one or more YAML files");
  std::vector<TableJob> jobs;
  std::map<std::string, std::string> owner;  // run_dir -> config
  for (const auto& path : args.configs) {
    check(file_exists(path), path + ": config file not found; nothing was run");
    jobs.push_back({path, Config::load(path, args.overrides)});
    const std::string& dir = jobs.back().cfg.s("run_dir");
    // Two rows in one run directory would overwrite each other's files.
    auto [at, fresh] = owner.emplace(dir, path);
    check(fresh, path + " and " + at->second + " both use run_dir " + dir +
                     "; give each config its own run_dir; nothing was run");
  }
  return jobs;
}

const char* kLegend =
    "Accuracy in percent on the test set. ensemble: the weight average of the originals. max-IoU: "
    "mean over the models of the highest IoU of wrong-prediction sets with any original (for the "
    "originals: any other original); lower is more novel. Closest baseline: of the baselines whose "
    "mean accuracy is at least the generated mean minus 0.1 points, the one with the lowest "
    "max-IoU. Targets: generated mean and median >= the originals' minus 0.1 points, best >= best "
    "original minus 0.2, min >= min original minus 1.\n";

void write_table(const TableArgs& args, const json& rows, const json& failed, const json& pending) {
  std::string md = "# p-diff results\n\n" + table_markdown(rows) + "\n" + kLegend;
  for (const auto& f : failed)
    md += "\nFailed: `" + f["config"].get<std::string>() + "`: " + f["error"].get<std::string>() + "\n";
  for (const auto& p : pending) md += "\nNot run yet: `" + p.get<std::string>() + "`\n";
  md += "\nCommand:\n\n    " + args.command + "\n";
  json j = {{"command", args.command}, {"rows", rows}, {"failed", failed}, {"pending", pending}};
  make_dirs(args.out_dir);
  write_file_atomic(args.out_dir + "/table.md", md);
  write_file_atomic(args.out_dir + "/table.json", j.dump(2) + "\n");
}

}  // namespace

int run_table(const TableArgs& args) {
  const std::vector<TableJob> jobs = load_configs(args);
  RunDirLock lock(args.out_dir, /*create=*/true);  // each run_dir is locked by run_all
  json rows = json::array(), failed = json::array();
  for (size_t i = 0; i < jobs.size(); ++i) {
    const TableJob& job = jobs[i];
    const std::string dir = job.cfg.s("run_dir");
    std::fprintf(stderr, "=== table: config %zu of %zu: %s (run_dir %s)\n", i + 1, jobs.size(), job.path.c_str(),
                 dir.c_str());
    try {
      open_run_context(job.cfg);
      run_all(job.cfg);  // on every rank of a job: its stages split their work
      on_main_rank("table: its row", [&] { rows.push_back(table_row(job.path, dir)); });
    } catch (const std::exception& e) {
      std::string msg = error_text(e);
      std::fprintf(stderr, "pdiff: error: config %s: %s\n", job.path.c_str(), msg.c_str());
      failed.push_back({{"config", job.path}, {"error", msg}});
    }
    json pending = json::array();
    for (size_t j = i + 1; j < jobs.size(); ++j) pending.push_back(jobs[j].path);
    on_main_rank("table: writing table.md", [&] { write_table(args, rows, failed, pending); });
  }
  if (!is_main_rank()) return int(failed.size());
  std::printf("\n%s\nTable: %s/table.md, %s/table.json\n", table_markdown(rows).c_str(), args.out_dir.c_str(),
              args.out_dir.c_str());
  return int(failed.size());
}

std::string shell_command(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    bool plain = !w.empty() && w.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                   "0123456789_-+=.,:/@%") == std::string::npos;
    std::string q = "'";
    for (char c : w) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    out += (out.empty() ? "" : " ") + (plain ? w : q + "'");
  }
  return out;
}

}  // namespace pdiff
