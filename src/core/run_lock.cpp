#include "core/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>

#include "core/error.h"
#include "core/runtime.h"

namespace pdiff {

namespace {

struct Held {
  int fd = -1;
  int count = 0;
  bool created_dir = false;  // this process made the directory
};

std::mutex& held_mutex() {
  static std::mutex m;
  return m;
}
std::map<std::string, Held>& held() {  // by real path
  static std::map<std::string, Held> h;
  return h;
}

std::string holder_of(int fd) {
  char buf[32] = {0};
  const ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  const long pid = n > 0 ? std::strtol(buf, nullptr, 10) : 0;
  return pid > 0 ? "pid " + std::to_string(pid) : "a process that is starting";
}

void create_directories(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  check(!ec, dir + ": cannot create the run directory (" + ec.message() + "); choose a writable run_dir");
}

}  // namespace

RunDirLock::RunDirLock(const std::string& dir, bool create) {
  // A job of several processes is one writer: its rank 0 holds the lock for all of them, and a
  // second job on the directory is refused there.
  if (process_rank() != 0) return;
  bool created = false;
  if (!std::filesystem::exists(dir)) {
    if (!create) return;
    create_directories(dir);
    created = true;
  }
  char real[PATH_MAX];
  check(realpath(dir.c_str(), real) != nullptr, dir + ": cannot resolve the run directory");
  std::lock_guard<std::mutex> guard(held_mutex());
  auto it = held().find(real);
  if (it != held().end()) {  // already ours: a stage called by `pdiff run` or `pdiff table`
    ++it->second.count;
    key_ = real;
    return;
  }
  const std::string lock_path = std::string(real) + "/.lock";
  // A lock file unlinked by its previous holder between our open and flock is retried: we
  // must hold the lock on the file that the path names now.
  for (int attempt = 0; attempt < 20; ++attempt) {
    if (created && !std::filesystem::exists(real)) create_directories(real);
    const int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    check(fd >= 0, dir + ": cannot create the lock file " + lock_path + " (" + std::strerror(errno) + ")");
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const std::string who = holder_of(fd);
      close(fd);
      throw Error(dir + ": run directory in use by another pdiff process (" + who + ", lock file " + lock_path +
                  "); wait for it to finish or stop it, or use another run_dir");
    }
    struct stat by_fd, by_path;
    if (fstat(fd, &by_fd) != 0 || stat(lock_path.c_str(), &by_path) != 0 || by_fd.st_ino != by_path.st_ino ||
        by_fd.st_dev != by_path.st_dev) {
      close(fd);
      continue;
    }
    const std::string pid = std::to_string(getpid()) + "\n";
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) != ssize_t(pid.size())) {
      close(fd);
      throw Error(dir + ": cannot write the lock file " + lock_path + " (disk full?)");
    }
    held()[real] = {fd, 1, created};
    key_ = real;
    return;
  }
  throw Error(dir + ": the lock file " + lock_path + " keeps changing; is another program removing it?");
}

RunDirLock::~RunDirLock() {
  if (key_.empty()) return;
  std::lock_guard<std::mutex> guard(held_mutex());
  auto it = held().find(key_);
  if (it == held().end() || --it->second.count > 0) return;
  const Held h = it->second;
  held().erase(it);
  // The lock file goes while still held (a process that opened it meanwhile sees another file
  // at the path and retries), and so does a directory this process made and left empty (the
  // command failed before writing anything): a refused command leaves no trace.
  const std::string lock_path = key_ + "/.lock";
  unlink(lock_path.c_str());
  if (h.created_dir) rmdir(key_.c_str());  // fails, as it should, unless empty
  close(h.fd);
}

}  // namespace pdiff
