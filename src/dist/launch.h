// Where this process sits in a job of several: read from the variables the launchers set, as
// PyTorch's own init_process_group(init_method="env://") reads them. torchrun sets RANK,
// WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT; Slurm's srun sets
// SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NTASKS_PER_NODE (or SLURM_TASKS_PER_NODE)
// and SLURM_JOB_NODELIST, whose first host is the rendezvous unless MASTER_ADDR says otherwise.
#pragma once

#include <functional>
#include <string>

namespace pdiff {

struct Launch {
  int rank = 0, world = 1;              // this process and how many there are
  int local_rank = 0, local_world = 1;  // the same on this machine (threads are divided among them)
  std::string master_addr = "127.0.0.1";  // where rank 0's rendezvous store listens
  int master_port = 29500;
  std::string launcher = "none";  // torchrun (the RANK variables), slurm, none (one process)
  bool agent_store = false;  // torchrun's agent serves the store (TORCHELASTIC_USE_AGENT_STORE=True)
  int restart = 0;           // torchrun's restart count (TORCHELASTIC_RESTART_COUNT): keys per attempt
  bool several() const { return world > 1; }
};

using EnvLookup = std::function<const char*(const char*)>;

// The launch this process's environment describes; one process when neither launcher's
// variables are there. Inconsistent values (RANK >= WORLD_SIZE, a port out of range, a missing
// MASTER_ADDR for several machines) throw an Error naming the variable.
Launch launch_from_env(const EnvLookup& env = [](const char* name) -> const char* { return std::getenv(name); });

// The first host of a Slurm node list: "node[07-09,12],gpu3" -> "node07", "a,b" -> "a".
std::string first_slurm_host(const std::string& nodelist);

}  // namespace pdiff
