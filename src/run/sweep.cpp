#include "run/sweep.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "core/config.h"
#include "core/error.h"
#include "dist/group.h"
#include "io/file_io.h"
#include "core/progress.h"
#include "core/run_lock.h"
#include "core/runtime.h"
#include "run/stage_options.h"
#include "eval/evaluate.h"
#include "gen/generate.h"
#include "gen/train.h"
#include "run/run.h"
#include "run/stage_share.h"
#include "run/sweep_grid.h"
#include "run/sweep_report.h"
#include "zoo/collect.h"

namespace pdiff {

namespace {

using json = nlohmann::json;

struct SweepJob {
  SweepPoint point;
  Config cfg;
  json shares;  // stage -> 1-based number of the first point with the same fingerprint
};

std::vector<SweepJob> load_jobs(const SweepArgs& args, const SweepGrid& grid) {
  check(!args.name.empty() && args.name.find('/') == std::string::npos && args.name[0] != '.',
        "--name " + args.name + ": give a plain file name (no '/', not starting with '.'); nothing was run");
  check(args.config_path.empty() || file_exists(args.config_path),
        args.config_path + ": config file not found; nothing was run");
  std::vector<SweepJob> jobs;
  for (const auto& p : sweep_points(grid)) {
    std::vector<std::string> overrides = grid.fixed;
    for (const auto& o : p.overrides()) overrides.push_back(o);
    overrides.push_back("run_dir=" + args.out_dir + "/" + p.name);
    jobs.push_back({p, Config::load(args.config_path, overrides), json::object()});
  }
  // Which points share each stage: the same fingerprint of its keys means the same inputs.
  const std::vector<std::pair<const char*, const std::vector<std::string>*>> stages = {
      {"collect", &collect_config_keys()}, {"autoencoder", &ae_config_keys()}, {"train", &ldm_config_keys()},
      {"generate", &generate_config_keys()}};
  for (const auto& [stage, keys] : stages) {
    std::map<std::string, int> first;
    for (size_t i = 0; i < jobs.size(); ++i)
      jobs[i].shares[stage] = first.emplace(stage_fingerprint(jobs[i].cfg, *keys), int(i) + 1).first->second;
  }
  return jobs;
}

void write_sweep(const SweepArgs& args, const json& sweep) {
  make_dirs(args.out_dir);
  const std::string base = args.out_dir + "/" + args.name;
  plot_sweep(base + ".png", sweep);
  write_file_atomic(base + ".md", sweep_markdown(sweep));
  write_file_atomic(base + ".json", sweep.dump(2) + "\n");
}

// Run directories that earlier sweeps left in `out` (a zoo of another sweep in the same folder
// is shared too; share_stages takes only what is current for the point's own keys).
std::vector<std::string> earlier_run_dirs(const std::string& out, const std::vector<SweepJob>& jobs) {
  std::vector<std::string> dirs;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(out, ec)) {
    const std::string d = entry.path().string();
    bool ours = false;
    for (const auto& j : jobs) ours = ours || j.cfg.s("run_dir") == d;
    if (!ours && entry.is_directory(ec) && file_exists(d + "/zoo.pt")) dirs.push_back(d);
  }
  std::sort(dirs.begin(), dirs.end());  // the same donor on every run
  return dirs;
}

// Runs one point: shares what another point's directory has for it, then `pdiff run`.
void run_point(const SweepJob& job, const std::vector<SweepJob>& jobs, const std::vector<std::string>& earlier) {
  const std::string dir = job.cfg.s("run_dir");
  std::vector<std::string> candidates;
  for (const auto& other : jobs)  // only points on the same zoo can share anything
    if (other.shares["collect"] == job.shares["collect"]) candidates.push_back(other.cfg.s("run_dir"));
  candidates.insert(candidates.end(), earlier.begin(), earlier.end());
  // Files are rank 0's: the other ranks of a job wait, then see them.
  on_main_rank("sweep: sharing stages", [&] {
    std::string from;
    const int shared = share_stages(job.cfg, candidates, &from);
    if (shared > 0) {
      std::string names;
      for (int s = 0; s < shared; ++s) names += (s ? ", " : "") + std::string(shared_stages()[s].name);
      std::fprintf(stderr, "== sweep: %s shared with %s (linked, not recomputed)\n", names.c_str(), from.c_str());
    }
    RunDirLock lock(dir, /*create=*/true);
    write_file_atomic(dir + "/config.yaml", job.cfg.to_yaml());  // collect writes it too, but a shared collect does not run here
  });
  open_run_context(job.cfg);
  run_all(job.cfg);
}

}  // namespace

int run_sweep(const SweepArgs& args) {
  const SweepGrid grid = parse_sweep_words(args.words);
  const std::vector<SweepJob> jobs = load_jobs(args, grid);
  const std::vector<std::string> earlier = earlier_run_dirs(args.out_dir, jobs);
  RunDirLock lock(args.out_dir, /*create=*/true);  // each point's run_dir is locked by run_all
  json keys = json::array();
  std::vector<std::string> key_names;
  for (const auto& a : grid.axes) keys.push_back(a.key), key_names.push_back(a.key);
  json sweep = {{"name", args.name},
                {"command", args.command},
                {"config", args.config_path.empty() ? "(built-in)" : args.config_path},
                {"keys", keys},
                {"fixed", grid.fixed},
                {"points", json::array()},
                {"zoos", json::array()},
                {"failed", json::array()},
                {"pending", json::array()}};
  Stopwatch timer;
  int ran = 0;
  double ran_s = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    const SweepJob& job = jobs[i];
    const std::string dir = job.cfg.s("run_dir");
    std::fprintf(stderr, "=== sweep: point %zu of %zu: %s (run_dir %s)\n", i + 1, jobs.size(),
                 job.point.label().c_str(), dir.c_str());
    Stopwatch point_timer;
    bool skipped = false;
    try {
      skipped = dist_broadcast_int(stage_status(job.cfg).eval, "sweep: the point's state") != 0;
      if (!skipped) run_point(job, jobs, earlier);  // on every rank of a job: its stages split their work
      on_main_rank("sweep: the point's row", [&] {
        json row = sweep_row(int(i) + 1, job.point.name, dir, key_names, job.shares);
        sweep["points"].push_back(row);
        // The originals and baselines once per zoo, from its first finished point.
        const int zoo = job.shares["collect"];
        json* z = nullptr;
        for (auto& entry : sweep["zoos"])
          if (entry["zoo"] == zoo) z = &entry;
        if (!z) {
          sweep["zoos"].push_back({{"zoo", zoo}, {"run_dir", dir}, {"points", json::array()}, {"groups", sweep_baselines(dir)}});
          z = &sweep["zoos"].back();
        }
        (*z)["points"].push_back(int(i) + 1);
      });
    } catch (const std::exception& e) {
      std::string msg = error_text(e);
      std::fprintf(stderr, "pdiff: error: sweep point %zu (%s): %s\n", i + 1, job.point.label().c_str(), msg.c_str());
      sweep["failed"].push_back({{"point", int(i) + 1}, {"name", job.point.name}, {"error", msg}});
    }
    json pending = json::array();
    for (size_t j = i + 1; j < jobs.size(); ++j) pending.push_back(jobs[j].point.name);
    sweep["pending"] = pending;
    on_main_rank("sweep: writing its table", [&] { write_sweep(args, sweep); });
    const size_t left = jobs.size() - i - 1;
    if (!skipped) ++ran, ran_s += point_timer.seconds();
    std::string eta;  // the mean point so far: an upper bound where later points share stages
    if (left && ran) eta = ", at most ~" + std::to_string(int(ran_s / ran * left)) + " s left";
    std::fprintf(stderr, "=== sweep: point %zu of %zu %s (%.1f s); %.1f s so far, %zu to go%s\n", i + 1, jobs.size(),
                 skipped ? "up to date, skipped" : "done", point_timer.seconds(), timer.seconds(), left, eta.c_str());
  }
  const std::string base = args.out_dir + "/" + args.name;
  if (!is_main_rank()) return int(sweep["failed"].size());
  std::printf("\n%s\nSweep: %s.md, %s.json, %s.png\n", sweep_markdown(sweep).c_str(), base.c_str(), base.c_str(),
              base.c_str());
  return int(sweep["failed"].size());
}

}  // namespace pdiff
