#include "dist/launch.h"

#include <algorithm>
#include <cstdlib>

#include "core/error.h"

namespace pdiff {

namespace {

// The integer in variable `name`, or `fallback` when unset; at least `min`.
int int_var(const EnvLookup& env, const char* name, int fallback, int min) {
  const char* text = env(name);
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  check(*end == '\0' && v >= min && v <= 1 << 20,
        std::string(name) + " = '" + text + "': the launcher should set an integer >= " + std::to_string(min));
  return static_cast<int>(v);
}

const char* set(const EnvLookup& env, const char* name) {
  const char* v = env(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

}  // namespace

std::string first_slurm_host(const std::string& nodelist) {
  // A host ends at the first comma outside brackets; a bracket holds numbers and ranges.
  const size_t bracket = nodelist.find('['), comma = nodelist.find(',');
  if (bracket == std::string::npos || (comma != std::string::npos && comma < bracket))
    return nodelist.substr(0, comma);
  const std::string prefix = nodelist.substr(0, bracket);
  const size_t end = nodelist.find_first_of(",-]", bracket + 1);
  check(end != std::string::npos, "SLURM_JOB_NODELIST = '" + nodelist + "': an unclosed '['; set MASTER_ADDR instead");
  return prefix + nodelist.substr(bracket + 1, end - bracket - 1);
}

Launch launch_from_env(const EnvLookup& env) {
  Launch l;
  if (set(env, "WORLD_SIZE") != nullptr || set(env, "RANK") != nullptr) {
    l.launcher = "torchrun";
    l.world = int_var(env, "WORLD_SIZE", 1, 1);
    l.rank = int_var(env, "RANK", 0, 0);
    l.local_rank = int_var(env, "LOCAL_RANK", l.rank, 0);
    l.local_world = int_var(env, "LOCAL_WORLD_SIZE", l.world, 1);
  } else if (set(env, "SLURM_PROCID") != nullptr && set(env, "SLURM_NTASKS") != nullptr) {
    l.launcher = "slurm";
    l.world = int_var(env, "SLURM_NTASKS", 1, 1);
    l.rank = int_var(env, "SLURM_PROCID", 0, 0);
    l.local_rank = int_var(env, "SLURM_LOCALID", 0, 0);
    if (set(env, "SLURM_NTASKS_PER_NODE") != nullptr)
      l.local_world = int_var(env, "SLURM_NTASKS_PER_NODE", 1, 1);
    else if (const char* tasks = set(env, "SLURM_TASKS_PER_NODE"))  // "4(x2),3": 4 on this node's kind
      l.local_world = std::max(1, std::atoi(tasks));
    else
      l.local_world = l.world;
  } else {
    return l;
  }
  const std::string source = l.launcher == "slurm" ? "SLURM_PROCID" : "RANK";
  check(l.rank < l.world, source + " = " + std::to_string(l.rank) + " but the job has " + std::to_string(l.world) +
                              " processes; the launcher's variables disagree");
  check(l.local_rank < l.local_world, "the local rank " + std::to_string(l.local_rank) + " is not below the " +
                                          std::to_string(l.local_world) + " processes on this machine");
  if (const char* addr = set(env, "MASTER_ADDR")) {
    l.master_addr = addr;
  } else if (const char* nodes = set(env, "SLURM_JOB_NODELIST"); nodes != nullptr && l.launcher == "slurm") {
    l.master_addr = first_slurm_host(nodes);
  } else {
    check(l.world == l.local_world, "several machines but no MASTER_ADDR: export MASTER_ADDR=<rank 0's host> "
                                    "(torchrun sets it; under Slurm, SLURM_JOB_NODELIST gives it)");
  }
  l.master_port = int_var(env, "MASTER_PORT", 29500, 1);
  if (const char* agent = set(env, "TORCHELASTIC_USE_AGENT_STORE")) l.agent_store = std::string(agent) == "True";
  l.restart = int_var(env, "TORCHELASTIC_RESTART_COUNT", 0, 0);
  check(l.master_port <= 65535, "MASTER_PORT = " + std::to_string(l.master_port) + ": a TCP port is at most 65535");
  return l;
}

}  // namespace pdiff
