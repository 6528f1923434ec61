#include "run/stage_share.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "io/file_io.h"
#include "core/run_lock.h"

namespace pdiff {

namespace {

namespace fs = std::filesystem;

// dst becomes a hard link to src (a copy across file systems), replacing dst by rename.
void link_or_copy(const std::string& src, const std::string& dst) {
  const std::string tmp = dst + ".link.tmp";
  std::error_code ec;
  fs::remove(tmp, ec);
  if (::link(src.c_str(), tmp.c_str()) != 0) {
    fs::copy_file(src, tmp, fs::copy_options::overwrite_existing, ec);
    check(!ec, dst + ": cannot link or copy " + src + " (" + ec.message() + "); is the sweep directory writable?");
  }
  fs::rename(tmp, dst, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw Error(dst + ": cannot move the shared file into place; is the run directory writable?");
  }
}

}  // namespace

const std::vector<SharedStage>& shared_stages() {
  static const std::vector<SharedStage> stages = {
      {"collect", {"base.pt", "base.json", "zoo.pt", "baselines.pt"}},
      {"autoencoder", {"ae.pt", "ae_loss.csv"}},  // a sweep of diffusion keys trains one autoencoder
      {"diffusion", {"ldm.pt", "ldm_loss.csv"}},
      {"generate", {"generated.pt"}},
  };
  return stages;
}

int current_depth(const StageStatus& s) {
  return !s.collect ? 0 : !s.ae ? 1 : !s.train ? 2 : !s.generate ? 3 : 4;
}

int share_stages(const Config& cfg, const std::vector<std::string>& candidates, std::string* from) {
  const std::string dir = cfg.s("run_dir");
  const int own = current_depth(stage_status(cfg));
  int best = own;
  std::string donor;
  for (const auto& c : candidates) {
    if (c == dir || !file_exists(c + "/zoo.pt")) continue;
    Config other = cfg;
    other.set("run_dir", c, "pdiff sweep");
    const int depth = current_depth(stage_status(other));  // current for *this* config's keys
    if (depth > best) best = depth, donor = c;
  }
  if (donor.empty()) return 0;
  RunDirLock lock(dir, /*create=*/true), donor_lock(donor, /*create=*/false);
  for (int s = 0; s < best; ++s)
    for (const char* file : shared_stages()[s].files) {
      const std::string src = donor + "/" + file, dst = dir + "/" + file;
      if (file_exists(src)) {
        link_or_copy(src, dst);
      } else {
        std::error_code ec;
        fs::remove(dst, ec);  // not the donor's: an own older file would not match the rest
      }
    }
  *from = donor;
  return best;
}

}  // namespace pdiff
