#include "core/progress.h"

#include <cstdio>

namespace pdiff {

namespace {
std::string format_duration(double s) {
  char buf[32];
  if (s < 0 || s > 1e7) return "?";
  int total = static_cast<int>(s + 0.5);
  if (total >= 3600)
    std::snprintf(buf, sizeof buf, "%dh%02dm", total / 3600, total / 60 % 60);
  else
    std::snprintf(buf, sizeof buf, "%dm%02ds", total / 60, total % 60);
  return buf;
}
}  // namespace

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

double Progress::elapsed_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::tick(int64_t n, const std::string& extra) {
  done_ += n;
  auto now = std::chrono::steady_clock::now();
  if (done_ >= total_ || std::chrono::duration<double>(now - last_draw_).count() > 0.5) {
    last_draw_ = now;
    draw(extra, false);
  }
}

void Progress::draw(const std::string& extra, bool final) {
  double el = elapsed_s();
  double rate = el > 0 ? done_ / el : 0;
  double eta = rate > 0 ? (total_ - done_) / rate : -1;
  std::fprintf(stderr, "\r%-14s %lld/%lld  %.1f %s/s  %s %s  %s\033[K", label_.c_str(),
               static_cast<long long>(done_), static_cast<long long>(total_), rate,
               unit_.c_str(), final ? "took" : "ETA", format_duration(final ? el : eta).c_str(),
               extra.c_str());
  if (final) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

void Progress::finish(const std::string& extra) {
  if (finished_) return;
  finished_ = true;
  draw(extra, true);
}

Progress::~Progress() { finish(); }

}  // namespace pdiff
