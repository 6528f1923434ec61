// One process per run directory: every command that writes into a run directory holds an
// advisory lock on RUN_DIR/.lock (flock, with the holder's pid written inside). A second
// process is refused at once, naming the directory and the pid; the kernel releases the lock
// when its holder exits, so a killed process (kill -9) leaves nothing that blocks.
// The lock is re-entrant within a process: `pdiff run` and `pdiff table` call stages that
// take it again. In a job of several processes only rank 0 takes it (core/runtime.h).
#pragma once
#include <string>

namespace pdiff {

class RunDirLock {
 public:
  // Locks `dir`, creating it if `create`; without `create` a missing directory is left alone
  // (there is nothing in it to protect; the stage reports its missing inputs).
  RunDirLock(const std::string& dir, bool create);
  ~RunDirLock();
  RunDirLock(const RunDirLock&) = delete;
  RunDirLock& operator=(const RunDirLock&) = delete;

 private:
  std::string key_;  // the directory's real path; empty when nothing is held
};

}  // namespace pdiff
