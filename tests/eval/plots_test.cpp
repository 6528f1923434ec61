// Tests of the gnuplot-rendered PNG plots: each kind writes a real PNG (signature, size) with no
// temporary file left behind, awkward series names work, and bad input or a missing gnuplot
// throws pdiff::Error with a useful message.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>

#include "core/error.h"
#include "core/file_io.h"
#include "eval/plots.h"
#include "test_util.h"

namespace pdiff {
namespace {

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no pdiff::Error thrown>";
}

// Checks `path` is a PNG of a plausible size and that no temporary file was left next to it.
void expect_png(const std::string& path) {
  ASSERT_TRUE(file_exists(path)) << path;
  std::string bytes = read_text_file(path);
  ASSERT_GE(bytes.size(), 8u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_GT(bytes.size(), 5000u) << path;
  EXPECT_FALSE(file_exists(path + ".tmp.png"));
  EXPECT_FALSE(file_exists(path + ".tmp"));
}

Series wave(const std::string& name, double phase, int n = 80) {
  Series s{name, {}, {}};
  for (int i = 0; i < n; ++i) {
    s.x.push_back(i * 0.1);
    s.y.push_back(std::sin(i * 0.1 + phase) + 0.05 * i);
  }
  return s;
}

Series cloud(const std::string& name, double cx, double cy, unsigned seed) {
  Series s{name, {}, {}};
  for (int i = 0; i < 200; ++i) {
    // Cheap deterministic pseudo-normal points.
    double u = std::fmod(std::sin((i + 1) * 12.9898 + seed) * 43758.5453, 1.0);
    double v = std::fmod(std::sin((i + 1) * 78.233 + seed) * 12345.6789, 1.0);
    s.x.push_back(cx + u);
    s.y.push_back(cy + v);
  }
  return s;
}

TEST(Plots, ScatterWritesPng) {
  std::string dir = test::temp_dir("plots_scatter");
  std::string path = dir + "/sub dir/tsne_scatter.png";  // parent is created; space in the path
  plot_scatter(path, "t-SNE of parameters (seed 0)", "t-SNE 1", "t-SNE 2",
               {cloud("original_models", 0, 0, 1), cloud("generated v1.2 (p-diff)", 3, 1, 2),
                cloud("noise+0.01", -2, 2, 3), Series{"empty's series", {}, {}}});
  expect_png(path);
  // Overwrites an existing plot.
  plot_scatter(path, "again", "x", "y", {cloud("a_b", 0, 0, 4)});
  expect_png(path);
}

TEST(Plots, HistogramsWritePng) {
  std::string dir = test::temp_dir("plots_hist");
  std::string path = dir + "/accuracy_hist.png";
  Series a{"original_models", {}, {}}, b{"generated_models", {}, {}};
  for (int i = 0; i < 300; ++i) {
    a.x.push_back(0.90 + 0.02 * std::sin(i * 1.7));
    b.x.push_back(0.91 + 0.015 * std::cos(i * 0.9));
  }
  b.x.push_back(NAN);  // skipped
  plot_histograms(path, "Test accuracy: original vs generated", "accuracy", {a, b}, 25);
  expect_png(path);
  // A single constant value still gets a visible bin.
  std::string one = dir + "/constant.png";
  plot_histograms(one, "constant", "value", {Series{"only_one", {0.5, 0.5, 0.5}, {}}});
  expect_png(one);
}

TEST(Plots, LinesWritePngIncludingLogScale) {
  std::string dir = test::temp_dir("plots_lines");
  std::string path = dir + "/loss.png";
  plot_lines(path, "Training loss", "step", "loss", {wave("train_loss", 0), wave("val loss", 1)});
  expect_png(path);
  Series loss{"ae_loss", {}, {}};
  for (int i = 0; i < 500; ++i) loss.x.push_back(i), loss.y.push_back(10.0 * std::exp(-i / 60.0) + 1e-3);
  Series with_zero{"with zero", {0, 1, 2, 3}, {0, 1, 0.1, 0.01}};  // the 0 is skipped on log y
  std::string log_path = dir + "/loss_log.png";
  plot_lines(log_path, "Loss (log)", "step", "loss", {loss, with_zero}, /*log_y=*/true);
  expect_png(log_path);
}

TEST(Plots, BadInputThrows) {
  std::string dir = test::temp_dir("plots_bad");
  std::string path = dir + "/x.png";
  std::string msg = error_of([&] { plot_scatter(path, "t", "x", "y", {}); });
  EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
  EXPECT_THROW(plot_histograms(path, "t", "x", {}), Error);
  EXPECT_THROW(plot_lines(path, "t", "x", "y", {}), Error);
  EXPECT_THROW(plot_lines(path, "t", "x", "y", {Series{"a", {1, 2}, {1}}}), Error);
  EXPECT_THROW(plot_scatter(path, "t", "x", "y", {Series{"a", {}, {}}}), Error);
  EXPECT_THROW(plot_histograms(path, "t", "x", {Series{"a", {NAN}, {}}}), Error);
  EXPECT_THROW(plot_histograms(path, "t", "x", {Series{"a", {1}, {}}}, 0), Error);
  EXPECT_THROW(plot_lines(path, "t", "x", "y", {Series{"a", {1, 2}, {0, -1}}}, true), Error);
  EXPECT_FALSE(file_exists(path));
}

TEST(Plots, MissingGnuplotSaysWhatToInstall) {
  std::string dir = test::temp_dir("plots_nognuplot");
  const char* old = std::getenv("PATH");
  std::string saved = old ? old : "";
  setenv("PATH", dir.c_str(), 1);  // an empty directory: no gnuplot
  std::string msg = error_of([&] { plot_lines(dir + "/x.png", "t", "x", "y", {wave("a", 0)}); });
  setenv("PATH", saved.c_str(), 1);
  EXPECT_NE(msg.find("gnuplot"), std::string::npos) << msg;
  EXPECT_NE(msg.find("gnuplot-nox"), std::string::npos) << msg;
  EXPECT_FALSE(file_exists(dir + "/x.png"));
}

}  // namespace
}  // namespace pdiff
