#include "run/job.h"

#include <chrono>

#include "core/version.h"
#include "dist/group.h"

namespace pdiff {

void join_job(const Config& cfg) {
  const Launch launch = launch_from_env();
  DistOptions opts;
  opts.backend = cfg.s("dist.backend");
  opts.timeout = std::chrono::seconds(cfg.i("dist.timeout"));
  join_group(launch, opts);
  if (!launch.several()) return;
  std::string text = "version: " + pdiff_version() + "\n";
  for (const auto& [key, value] : cfg.values())
    if (key != "threads") text += key + ": " + value + "\n";
  dist_check_same("pdiff version and settings", text);
}

void join_job(const std::string& command_line) {
  const Launch launch = launch_from_env();
  join_group(launch, DistOptions{});
  if (launch.several()) dist_check_same("pdiff version and command line", pdiff_version() + "\n" + command_line + "\n");
}

}  // namespace pdiff
