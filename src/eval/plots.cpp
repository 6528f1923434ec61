#include "eval/plots.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "core/error.h"
#include "io/file_io.h"

namespace pdiff {

// The plots of an open PlotBatch, rendered together at its finish().
struct PlotBatchState {
  std::vector<std::pair<std::string, std::string>> plots;  // (path, script)
  std::vector<std::string> dirs;                            // plot data kept until then
};

namespace {

namespace fs = std::filesystem;

const char* const kInstallHint =
    "install gnuplot-nox (`apt-get install gnuplot-nox`; the README's install step does)";

// Colour-blind-friendly-ish palette (matplotlib's tab10) and filled markers, cycled per series.
const std::array<const char*, 10> kColours = {"1f77b4", "d62728", "2ca02c", "ff7f0e", "9467bd",
                                              "8c564b", "e377c2", "7f7f7f", "bcbd22", "17becf"};
const std::array<int, 9> kMarkers = {7, 5, 9, 11, 13, 15, 1, 2, 3};

std::string colour(size_t i, const char* alpha = "") {
  return std::string("'#") + alpha + kColours[i % kColours.size()] + "'";
}

// A gnuplot single-quoted string: only '' is special inside; newlines would end the command.
std::string gp_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "''";
    else if (c == '\n' || c == '\r' || c == '\t')
      out += ' ';
    else
      out += c;
  }
  return out + "'";
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

thread_local PlotBatchState* open_batch = nullptr;  // one batch per thread

// A private directory under the system temp dir, removed with everything in it on scope exit
// (or, while a PlotBatch is open, when the batch closes: its plots are not rendered yet).
class TempDir {
 public:
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "pdiff_plot_XXXXXX").string();
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    check(mkdtemp(buf.data()) != nullptr,
          templ + ": cannot create a temporary directory for plot data (is $TMPDIR writable?)");
    path_ = buf.data();
  }
  ~TempDir() {
    if (open_batch != nullptr) {
      open_batch->dirs.push_back(path_);
      return;
    }
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  check(out.good(), path + ": cannot write plot data (disk full?)");
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

void check_series(const std::string& path, const std::vector<Series>& series, bool need_y) {
  check(!series.empty(), path + ": nothing to plot: the series list is empty (pass at least one "
                                "Series with data)");
  for (const Series& s : series) {
    if (need_y)
      check(s.x.size() == s.y.size(),
            path + ": series '" + s.name + "' has " + std::to_string(s.x.size()) + " x values but " +
                std::to_string(s.y.size()) + " y values; give one y per x");
  }
}

// Terminal, output and labels shared by every plot.
std::string preamble(const std::string& png_tmp, const std::string& title, const std::string& xlabel,
                     const std::string& ylabel) {
  std::ostringstream s;
  s << "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
    << "  set terminal pngcairo noenhanced size 900,650 font 'sans,11'\n"
    << "} else {\n"
    << "  set terminal png noenhanced truecolor size 900,650\n"
    << "}\n"
    << "set output " << gp_quote(png_tmp) << "\n"
    << "set title " << gp_quote(title) << "\n"
    << "set xlabel " << gp_quote(xlabel) << "\n"
    << "set ylabel " << gp_quote(ylabel) << "\n"
    << "set key outside right top box Left reverse\n"
    << "set grid lc rgb '#d0d0d0'\n";
  return s.str();
}

void check_gnuplot(const std::string& path) {
  check(std::system("command -v gnuplot >/dev/null 2>&1") == 0,
        path + ": cannot draw the plot: gnuplot not found on PATH; " + std::string(kInstallHint));
}

// Runs gnuplot on a script file: (exit code, its output).
std::pair<int, std::string> run_gnuplot(const std::string& script_path, const std::string& path) {
  std::string output;
  FILE* p = popen(("gnuplot " + shell_quote(script_path) + " 2>&1").c_str(), "r");
  check(p != nullptr, path + ": cannot start gnuplot (out of processes or memory?)");
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) output.append(buf.data(), n);
  int status = pclose(p);
  return {(status != -1 && WIFEXITED(status)) ? WEXITSTATUS(status) : -1, output};
}

// Renames path.tmp.png over `path`, or throws what gnuplot said when it made no PNG (or failed).
void move_png_into_place(const std::string& path, int code, std::string output) {
  const std::string png_tmp = path + ".tmp.png";
  std::error_code ec;
  bool have_png = fs::exists(png_tmp, ec) && fs::file_size(png_tmp, ec) > 0;
  if (code != 0 || !have_png) {
    fs::remove(png_tmp, ec);
    if (output.size() > 1500) output = "..." + output.substr(output.size() - 1500);
    std::string why = code == 127 ? "gnuplot not found" : "gnuplot failed (exit " + std::to_string(code) + ")";
    throw Error(path + ": cannot draw the plot: " + why + (output.empty() ? "" : ": " + output) +
                "; check the output directory is writable, or " + kInstallHint);
  }
  fs::rename(png_tmp, path, ec);
  if (ec) {
    fs::remove(png_tmp, ec);
    throw Error(path + ": cannot move the finished plot into place (is the directory writable?)");
  }
}

// Runs gnuplot on `script` (the preamble sets the output to path.tmp.png), then renames the PNG
// over `path`; in an open PlotBatch, at the batch's finish().
void render(const std::string& path, const TempDir& dir, const std::string& script) {
  std::string script_path = dir.file("plot.gp");
  write_text(script_path, script + "unset output\n");
  if (open_batch != nullptr) {
    open_batch->plots.emplace_back(path, script_path);
    return;
  }
  check_gnuplot(path);
  const auto [code, output] = run_gnuplot(script_path, path);
  move_png_into_place(path, code, output);
}

void prepare_output_dir(const std::string& path) {
  check(!path.empty(), "plot: empty output path; give a file name ending in .png");
  std::string parent = fs::path(path).parent_path().string();
  if (!parent.empty()) make_dirs(parent);
}

// Writes the (x[, y]) pairs that pass `keep` to a data file; returns how many were written.
size_t write_points(const std::string& file, const Series& s, bool with_y,
                    const std::function<bool(double, double)>& keep) {
  std::string text;
  size_t count = 0;
  for (size_t i = 0; i < s.x.size(); ++i) {
    double x = s.x[i], y = with_y ? s.y[i] : 0.0;
    if (!keep(x, y)) continue;
    text += number(x);
    if (with_y) text += " " + number(y);
    text += "\n";
    ++count;
  }
  write_text(file, text);
  return count;
}

// Shared scatter/lines driver: `style(i, count)` gives the `with ...` clause of series i and
// `extra` adds script lines before the plot command.
void plot_xy(const std::string& path, const std::string& title, const std::string& xlabel,
             const std::string& ylabel, const std::vector<Series>& series, bool log_y,
             const std::function<std::string(size_t, size_t)>& style, const std::string& extra = "",
             const std::string& more_plots = "") {
  check_series(path, series, /*need_y=*/true);
  auto keep = [log_y](double x, double y) {
    return std::isfinite(x) && std::isfinite(y) && (!log_y || y > 0);
  };
  bool any = false;
  for (const Series& s : series)
    for (size_t i = 0; i < s.x.size() && !any; ++i) any = keep(s.x[i], s.y[i]);
  check(any, path + ": nothing to plot: no series has a finite" +
                 std::string(log_y ? ", positive" : "") + " (x, y) point");
  prepare_output_dir(path);
  TempDir dir;
  std::ostringstream plot;
  for (size_t i = 0; i < series.size(); ++i) {
    std::string file = dir.file("series" + std::to_string(i) + ".dat");
    size_t count = write_points(file, series[i], /*with_y=*/true, keep);
    plot << (i ? ", \\\n     " : "plot ");
    // An empty series still gets its legend entry (a NaN function draws nothing).
    plot << (count ? gp_quote(file) + " using 1:2" : std::string("NaN")) << " with "
         << style(i, count) << " title " << gp_quote(series[i].name);
  }
  std::string script = preamble(path + ".tmp.png", title, xlabel, ylabel) + extra;
  if (log_y) script += "set logscale y\nset format y '%g'\n";
  render(path, dir, script + plot.str() + more_plots + "\n");
}

}  // namespace

void plot_scatter(const std::string& path, const std::string& title, const std::string& xlabel,
                  const std::string& ylabel, const std::vector<Series>& series) {
  plot_xy(path, title, xlabel, ylabel, series, /*log_y=*/false, [](size_t i, size_t) {
    // Slightly transparent markers so dense clouds show their overlap.
    return "points pt " + std::to_string(kMarkers[i % kMarkers.size()]) + " ps 0.9 lc rgb " +
           colour(i, "30");
  }, /*extra=*/"set offsets graph 0.03, graph 0.03, graph 0.03, graph 0.03\n");
}

void plot_lines(const std::string& path, const std::string& title, const std::string& xlabel,
                const std::string& ylabel, const std::vector<Series>& series, bool log_y) {
  plot_xy(path, title, xlabel, ylabel, series, log_y, [](size_t i, size_t count) {
    // Sparse markers (about 15 per line) tell the series apart where colours are close.
    size_t interval = std::max<size_t>(1, count / 15);
    return "linespoints lw 2 pt " + std::to_string(kMarkers[i % kMarkers.size()]) +
           " ps 0.8 pi " + std::to_string(interval) + " dt " +
           std::to_string(1 + i / kColours.size()) + " lc rgb " + colour(i);
  });
}

void plot_fronts(const std::string& path, const std::string& title, const std::string& xlabel,
                 const std::string& ylabel, const std::vector<FrontSeries>& groups) {
  // Three series per group (points, front, mean); only the mean carries the group's name, so
  // the legend has one entry per group (an empty title is no legend entry in gnuplot).
  std::vector<Series> series;
  for (const FrontSeries& g : groups) {
    series.push_back({"", g.x, g.y});
    series.push_back({"", g.front_x, g.front_y});
    series.push_back({g.name, {g.mean_x}, {g.mean_y}});
  }
  plot_xy(path, title, xlabel, ylabel, series, /*log_y=*/false, [](size_t i, size_t) {
    const size_t group = i / 3;
    const std::string marker = std::to_string(kMarkers[group % kMarkers.size()]);
    switch (i % 3) {
      case 0: return "points pt " + marker + " ps 0.7 lc rgb " + colour(group, "60");
      case 1: return "steps lw 2 lc rgb " + colour(group);
      default: return "points pt " + marker + " ps 2.6 lc rgb " + colour(group);
    }
  }, /*extra=*/"set offsets graph 0.03, graph 0.03, graph 0.03, graph 0.03\n");
}

void plot_labelled(const std::string& path, const std::string& title, const std::string& xlabel,
                   const std::string& ylabel, const std::vector<LabelledSeries>& series) {
  std::vector<Series> plain;
  for (const auto& s : series) {
    check(s.labels.size() == s.x.size(), path + ": series '" + s.name + "' has " + std::to_string(s.x.size()) +
                                             " points but " + std::to_string(s.labels.size()) +
                                             " labels; give one label per point");
    plain.push_back({s.name, s.x, s.y});
  }
  // The labels go to their own files (x y "label"); plot_xy draws the points and the legend.
  TempDir labels_dir;
  // The legend below, so the plot keeps the width the labels need.
  std::string extra = "set offsets graph 0.05, graph 0.25, graph 0.05, graph 0.05\nset key below box\n";
  std::ostringstream labels;
  for (size_t i = 0; i < series.size(); ++i) {
    std::string text;
    for (size_t j = 0; j < series[i].x.size(); ++j) {
      if (!std::isfinite(series[i].x[j]) || !std::isfinite(series[i].y[j])) continue;
      std::string label = series[i].labels[j];
      for (char& c : label)
        if (c == '"' || c == '\\' || c == '\n' || c == '\r') c = '\'';
      text += number(series[i].x[j]) + " " + number(series[i].y[j]) + " \"" + label + "\"\n";
    }
    if (text.empty()) continue;
    std::string file = labels_dir.file("labels" + std::to_string(i) + ".dat");
    write_text(file, text);
    labels << ", \\\n     " << gp_quote(file) << " using 1:2:3 with labels left offset 0.7,0.35 font ',8' tc rgb "
           << colour(i) << " notitle";
  }
  plot_xy(path, title, xlabel, ylabel, plain, /*log_y=*/false, [](size_t i, size_t) {
    return "points pt " + std::to_string(kMarkers[i % kMarkers.size()]) + " ps 1.6 lc rgb " + colour(i);
  }, extra, labels.str());
}

void plot_histograms(const std::string& path, const std::string& title, const std::string& xlabel,
                     const std::vector<Series>& series, int bins) {
  check_series(path, series, /*need_y=*/false);
  check(bins >= 1 && bins <= 100000,
        path + ": histogram bins must be between 1 and 100000, got " + std::to_string(bins));
  // Shared bin edges spanning every series' finite values.
  double lo = INFINITY, hi = -INFINITY;
  for (const Series& s : series)
    for (double v : s.x)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  check(lo <= hi, path + ": nothing to plot: no series has a finite value");
  if (hi - lo <= 1e-12 * std::max(1.0, std::abs(lo))) {
    double pad = std::max(0.5, 0.05 * std::abs(lo));
    lo -= pad, hi += pad;
  }
  const double width = (hi - lo) / bins;

  prepare_output_dir(path);
  TempDir dir;
  std::ostringstream plot;
  for (size_t i = 0; i < series.size(); ++i) {
    std::vector<int64_t> counts(bins, 0);
    for (double v : series[i].x) {
      if (!std::isfinite(v)) continue;
      int64_t b = static_cast<int64_t>(std::floor((v - lo) / width));
      counts[std::clamp<int64_t>(b, 0, bins - 1)]++;
    }
    std::string text;
    for (int b = 0; b < bins; ++b)
      text += number(lo + (b + 0.5) * width) + " " + std::to_string(counts[b]) + "\n";
    std::string file = dir.file("hist" + std::to_string(i) + ".dat");
    write_text(file, text);
    plot << (i ? ", \\\n     " : "plot ") << gp_quote(file) << " using 1:2 with boxes lc rgb "
         << colour(i) << " fs transparent solid 0.35 border lc rgb " << colour(i) << " title "
         << gp_quote(series[i].name);
  }
  std::string script = preamble(path + ".tmp.png", title, xlabel, "count");
  script += "set boxwidth " + number(width) + " absolute\n";
  script += "set xrange [" + number(lo) + ":" + number(hi) + "]\n";
  script += "set yrange [0:*]\n";
  render(path, dir, script + plot.str() + "\n");
}

PlotBatch::PlotBatch() : state_(std::make_unique<PlotBatchState>()) {
  check(open_batch == nullptr, "plots: a PlotBatch is already open on this thread");
  open_batch = state_.get();
}

PlotBatch::~PlotBatch() {
  open_batch = nullptr;
  std::error_code ec;
  for (const auto& [path, script] : state_->plots) fs::remove(path + ".tmp.png", ec);  // unfinished
  for (const auto& d : state_->dirs) fs::remove_all(d, ec);
}

void PlotBatch::finish() {
  auto plots = std::move(state_->plots);
  state_->plots.clear();
  if (plots.empty()) return;
  check_gnuplot(plots.front().first);
  // One gnuplot: each plot's script after a reset (a log scale or a key placement set by one
  // plot does not reach the next; the terminal and output are set by each script).
  TempDir dir;
  std::string all;
  for (const auto& [path, script] : plots) all += "reset\nload " + gp_quote(script) + "\n";
  const std::string all_path = dir.file("plots.gp");
  write_text(all_path, all);
  const auto [code, output] = run_gnuplot(all_path, plots.front().first);
  // gnuplot stops at the first error: the plots before it are in place, the first without its
  // PNG is the one named (the last one when every PNG was made and gnuplot still failed).
  for (size_t i = 0; i < plots.size(); ++i) {
    const std::string& path = plots[i].first;
    std::error_code ec;
    const bool made = fs::exists(path + ".tmp.png", ec) && fs::file_size(path + ".tmp.png", ec) > 0;
    const bool last = i + 1 == plots.size();
    if (!made || last) state_->plots.assign(plots.begin() + i + 1, plots.end());  // removed by the destructor
    move_png_into_place(path, made && !last ? 0 : code, output);  // throws unless made
  }
}

}  // namespace pdiff
