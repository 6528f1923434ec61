// Tests of the gnuplot-rendered PNG plots: each kind writes a PNG that decodes (below, with zlib)
// to a 900x650 image that is not blank, the pixels follow the data, no temporary file is left
// behind, awkward series names work, and bad input or a missing gnuplot throws pdiff::Error
// with a useful message.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>

#include <zlib.h>

#include "core/error.h"
#include "io/file_io.h"
#include "eval/plots.h"
#include "test_util.h"

namespace pdiff::plots_test {
namespace {

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no pdiff::Error thrown>";
}

// A decoded 8-bit, non-interlaced PNG: one byte per channel (palette images: the index).
struct Image {
  int64_t width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;  // row-major, width * channels bytes a row
  std::string pixel(int64_t x, int64_t y) const {
    return std::string(reinterpret_cast<const char*>(&pixels[(y * width + x) * channels]), channels);
  }
};

uint32_t be32(const std::string& b, size_t at) {
  return (uint32_t(uint8_t(b[at])) << 24) | (uint32_t(uint8_t(b[at + 1])) << 16) |
         (uint32_t(uint8_t(b[at + 2])) << 8) | uint32_t(uint8_t(b[at + 3]));
}

// Parses the chunks (IHDR for the size and type, the IDATs for the data), inflates the data
// and undoes each row's filter (PNG spec section 9). Fails the test on anything unexpected.
Image decode_png(const std::string& path) {
  Image img;
  std::string bytes = read_text_file(path);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << path;
  std::string idat;
  bool ended = false;
  for (size_t at = 8; at + 12 <= bytes.size() && !ended;) {
    const uint32_t len = be32(bytes, at);
    const std::string type = bytes.substr(at + 4, 4), data = bytes.substr(at + 8, len);
    if (type == "IHDR") {
      img.width = be32(data, 0), img.height = be32(data, 4);
      const int depth = uint8_t(data[8]), colour = uint8_t(data[9]), interlace = uint8_t(data[12]);
      EXPECT_EQ(depth, 8) << path;
      EXPECT_EQ(interlace, 0) << path;
      const std::map<int, int64_t> channels = {{0, 1}, {2, 3}, {3, 1}, {4, 2}, {6, 4}};
      EXPECT_TRUE(channels.count(colour)) << path << ": colour type " << colour;
      img.channels = channels.count(colour) ? channels.at(colour) : 0;
    }
    if (type == "IDAT") idat += data;
    ended = type == "IEND";
    at += 12 + len;
  }
  EXPECT_TRUE(ended) << path << ": no IEND chunk";
  if (img.channels == 0 || img.width == 0 || img.height == 0) return img;
  const int64_t stride = img.width * img.channels, bpp = img.channels;
  std::vector<uint8_t> raw(img.height * (stride + 1));
  uLongf raw_len = raw.size();
  EXPECT_EQ(uncompress(raw.data(), &raw_len, reinterpret_cast<const Bytef*>(idat.data()), idat.size()), Z_OK) << path;
  EXPECT_EQ(raw_len, raw.size()) << path;
  img.pixels.assign(img.height * stride, 0);
  for (int64_t y = 0; y < img.height; ++y) {
    const uint8_t filter = raw[y * (stride + 1)];
    const uint8_t* in = &raw[y * (stride + 1) + 1];
    uint8_t* row = &img.pixels[y * stride];
    const uint8_t* up = y > 0 ? &img.pixels[(y - 1) * stride] : nullptr;
    for (int64_t i = 0; i < stride; ++i) {
      const int a = i >= bpp ? row[i - bpp] : 0, b = up ? up[i] : 0, c = up && i >= bpp ? up[i - bpp] : 0;
      int predictor = 0;
      if (filter == 1) predictor = a;
      else if (filter == 2) predictor = b;
      else if (filter == 3) predictor = (a + b) / 2;
      else if (filter == 4) {
        const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
        predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else if (filter != 0) {
        ADD_FAILURE() << path << ": row " << y << " has filter type " << int(filter);
        return img;
      }
      row[i] = static_cast<uint8_t>(in[i] + predictor);
    }
  }
  return img;
}

// Number of pixels that differ between two images of the same size.
int64_t pixels_differing(const Image& a, const Image& b) {
  int64_t n = 0;
  for (int64_t y = 0; y < a.height; ++y)
    for (int64_t x = 0; x < a.width; ++x) n += a.pixel(x, y) != b.pixel(x, y);
  return n;
}

// Checks `path` decodes to a 900x650 image with a drawing on it, and that no temporary file was
// left next to it. Returns the image.
Image expect_png(const std::string& path) {
  EXPECT_TRUE(file_exists(path)) << path;
  if (!file_exists(path)) return {};
  Image img = decode_png(path);
  EXPECT_EQ(img.width, 900) << path;
  EXPECT_EQ(img.height, 650) << path;
  // Not blank: besides the background (the commonest pixel) there are axes, text and data,
  // in several colours, but they do not cover the picture.
  std::map<std::string, int64_t> counts;
  for (int64_t y = 0; y < img.height; ++y)
    for (int64_t x = 0; x < img.width; ++x) ++counts[img.pixel(x, y)];
  int64_t background = 0;
  for (const auto& kv : counts) background = std::max(background, kv.second);
  const double drawn = 1.0 - double(background) / double(img.width * img.height);
  EXPECT_GT(drawn, 0.01) << path;
  EXPECT_LT(drawn, 0.6) << path;
  EXPECT_GT(counts.size(), 8u) << path << ": too few colours for axes, text and series";
  EXPECT_FALSE(file_exists(path + ".tmp.png"));
  EXPECT_FALSE(file_exists(path + ".tmp"));
  return img;
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

TEST(Plots, PixelsFollowTheData) {
  // Same title, labels and axis ranges (y = sin and y = -sin over one period): only the
  // curve can make the pixels differ. The same data twice gives the same picture.
  std::string dir = test::temp_dir("plots_pixels");
  auto curve = [](double sign) {
    Series s{"curve", {}, {}};
    for (int i = 0; i <= 100; ++i) s.x.push_back(i * 0.02 * M_PI), s.y.push_back(sign * std::sin(i * 0.02 * M_PI));
    return s;
  };
  plot_lines(dir + "/a.png", "t", "x", "y", {curve(1)});
  plot_lines(dir + "/b.png", "t", "x", "y", {curve(-1)});
  plot_lines(dir + "/a2.png", "t", "x", "y", {curve(1)});
  Image a = expect_png(dir + "/a.png"), b = expect_png(dir + "/b.png"), a2 = expect_png(dir + "/a2.png");
  ASSERT_EQ(a.pixels.size(), b.pixels.size());
  ASSERT_EQ(a.pixels.size(), a2.pixels.size());
  EXPECT_EQ(pixels_differing(a, a2), 0);
  EXPECT_GT(pixels_differing(a, b), 500) << "another curve, (almost) the same picture";
  // Where the pictures differ, one of them shows its curve. In the left third (x < 2pi/3),
  // y = sin is positive and y = -sin negative: a's curve lies above b's (smaller rows).
  auto mean_row_of_curve = [&](const Image& img, const Image& other) {
    const std::string background = img.pixel(img.width - 1, img.height - 1);
    double sum = 0, n = 0;
    for (int64_t y = 0; y < img.height; ++y)
      for (int64_t x = 0; x < img.width / 3; ++x)
        if (img.pixel(x, y) != other.pixel(x, y) && img.pixel(x, y) != background) sum += y, ++n;
    EXPECT_GT(n, 100) << "no curve in the left third";
    return sum / std::max(n, 1.0);
  };
  EXPECT_LT(mean_row_of_curve(a, b) + 100, mean_row_of_curve(b, a)) << "y = sin not drawn above y = -sin";
}

TEST(Plots, FrontsWritePngAndTheFrontIsDrawn) {
  std::string dir = test::temp_dir("plots_fronts");
  auto group = [](const std::string& name, double cx, double cy, unsigned seed, bool with_front) {
    Series c = cloud(name, cx, cy, seed);
    FrontSeries g{name, c.x, c.y, {}, {}, cx + 0.5, cy + 0.5};
    if (with_front)
      for (double t : {0.0, 0.3, 0.6, 0.9}) g.front_x.push_back(cx + t), g.front_y.push_back(cy + 0.1 + t);
    return g;
  };
  plot_fronts(dir + "/with.png", "Dominance", "max IoU", "accuracy",
              {group("generated", 0, 0, 1, true), group("average16", 0.5, 0.2, 2, true)});
  plot_fronts(dir + "/without.png", "Dominance", "max IoU", "accuracy",
              {group("generated", 0, 0, 1, false), group("average16", 0.5, 0.2, 2, false)});
  Image with = expect_png(dir + "/with.png"), without = expect_png(dir + "/without.png");
  ASSERT_EQ(with.pixels.size(), without.pixels.size());
  EXPECT_GT(pixels_differing(with, without), 300) << "the fronts' staircases are not drawn";
  // A group of one model (the ensemble): its point is its front and its mean.
  plot_fronts(dir + "/one.png", "t", "x", "y", {FrontSeries{"ensemble", {0.9}, {91.0}, {0.9}, {91.0}, 0.9, 91.0}});
  expect_png(dir + "/one.png");
}

TEST(Plots, LabelledPointsCarryTheirLabels) {
  std::string dir = test::temp_dir("plots_labelled");
  auto series = [](const std::vector<std::string>& labels) {
    return std::vector<LabelledSeries>{{"sweep points", {0.8, 0.85}, {91.0, 90.5}, labels},
                                       {"baselines", {0.9, 0.95, NAN}, {91.1, 90.9, 90.0}, {"average16", "gaussian", "none"}}};
  };
  plot_labelled(dir + "/with.png", "Sweep", "max IoU", "accuracy", series({"0.1, 0 \"quoted\"", "0.3, 1"}));
  plot_labelled(dir + "/without.png", "Sweep", "max IoU", "accuracy", series({"", ""}));
  Image with = expect_png(dir + "/with.png"), without = expect_png(dir + "/without.png");
  ASSERT_EQ(with.pixels.size(), without.pixels.size());
  EXPECT_GT(pixels_differing(with, without), 50) << "the labels are not drawn";
  std::string msg = error_of([&] {
    plot_labelled(dir + "/bad.png", "t", "x", "y", {LabelledSeries{"a", {1, 2}, {1, 2}, {"one"}}});
  });
  EXPECT_NE(msg.find("one label per point"), std::string::npos) << msg;
  EXPECT_FALSE(file_exists(dir + "/bad.png"));
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

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(Plots, ABatchDrawsWithOneGnuplotWhatEachPlotDrawsAlone) {
  std::string dir = test::temp_dir("plots_batch");
  plot_lines(dir + "/alone_lines.png", "Loss", "step", "loss", {wave("a", 0)}, /*log_y=*/true);
  plot_scatter(dir + "/alone_scatter.png", "Scatter", "x", "y", {cloud("c", 0, 0, 1)});
  {
    PlotBatch batch;
    plot_lines(dir + "/lines.png", "Loss", "step", "loss", {wave("a", 0)}, /*log_y=*/true);
    plot_scatter(dir + "/scatter.png", "Scatter", "x", "y", {cloud("c", 0, 0, 1)});
    EXPECT_FALSE(file_exists(dir + "/lines.png"));  // drawn at finish()
    batch.finish();
  }
  // The same pixels: the log scale of the first plot does not reach the second.
  EXPECT_EQ(bytes_of(dir + "/lines.png"), bytes_of(dir + "/alone_lines.png"));
  EXPECT_EQ(bytes_of(dir + "/scatter.png"), bytes_of(dir + "/alone_scatter.png"));
  // A plot gnuplot cannot make (its folder is gone by then) is named; the plots after it are
  // not drawn, and nothing half-made is left.
  std::string msg;
  {
    PlotBatch batch;
    plot_lines(dir + "/before.png", "t", "x", "y", {wave("a", 0)});
    plot_lines(dir + "/gone/bad.png", "t", "x", "y", {wave("a", 0)});
    plot_lines(dir + "/after.png", "t", "x", "y", {wave("a", 0)});
    test::run_command("rm -rf '" + dir + "/gone'");
    msg = error_of([&] { batch.finish(); });
  }
  EXPECT_NE(msg.find(dir + "/gone/bad.png: cannot draw the plot"), std::string::npos) << msg;
  EXPECT_TRUE(file_exists(dir + "/before.png"));
  EXPECT_FALSE(file_exists(dir + "/after.png"));
  EXPECT_FALSE(file_exists(dir + "/after.png.tmp.png"));
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
}  // namespace pdiff::plots_test
