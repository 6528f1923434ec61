// PNG plots (scatter, overlaid histograms, lines) rendered by gnuplot: the data goes to
// temporary files, a generated script runs `gnuplot` from PATH (terminal pngcairo, or png when
// cairo is missing), and the PNG appears atomically at its path. Needs the gnuplot-nox package.
#pragma once
#include <memory>
#include <string>
#include <vector>

namespace pdiff {

// One named set of points. Histograms use only x (y stays empty). Names are shown literally
// (no gnuplot enhanced-text markup), so spaces, underscores and dots are fine.
struct Series {
  std::string name;
  std::vector<double> x, y;
};

// Each function writes a ~900x650 PNG to `path` (creating its directory), with the title, axis
// labels and a legend entry per series. Non-finite values are skipped. Throws pdiff::Error when
// `series` is empty, holds no plottable value, x and y lengths differ, or gnuplot is missing or
// fails.

// One colour and marker per series.
void plot_scatter(const std::string& path, const std::string& title, const std::string& xlabel,
                  const std::string& ylabel, const std::vector<Series>& series);

// Overlaid semi-transparent histograms (counts) of each series' x over shared bin edges that
// span all series.
void plot_histograms(const std::string& path, const std::string& title, const std::string& xlabel,
                     const std::vector<Series>& series, int bins = 30);

// One line per series, points joined in the given order; log_y uses a log-scale y axis (and
// skips values <= 0).
void plot_lines(const std::string& path, const std::string& title, const std::string& xlabel,
                const std::string& ylabel, const std::vector<Series>& series, bool log_y = false);

// One group for plot_fronts: its points, its Pareto front (points in order) and its mean.
struct FrontSeries {
  std::string name;
  std::vector<double> x, y;              // every model
  std::vector<double> front_x, front_y;  // the front, x ascending
  double mean_x = 0, mean_y = 0;
};

// Per group, in one colour: its points (small, faint), its front as a staircase (each front
// point's lower-right quadrant is what it dominates when up is better and left is better) and its
// mean (a large marker). One legend entry per group.
void plot_fronts(const std::string& path, const std::string& title, const std::string& xlabel,
                 const std::string& ylabel, const std::vector<FrontSeries>& groups);

// Named sets of points, each point with a text label written beside it (a sweep's points, the
// baselines' means); one colour and marker per set, one legend entry per set.
struct LabelledSeries {
  std::string name;
  std::vector<double> x, y;
  std::vector<std::string> labels;  // one per point
};
void plot_labelled(const std::string& path, const std::string& title, const std::string& xlabel,
                   const std::string& ylabel, const std::vector<LabelledSeries>& series);

struct PlotBatchState;

// Plots drawn on this thread while a PlotBatch is open are rendered by one gnuplot run, at
// finish(): a report's six plots start one process instead of six (~0.15 s each). Each PNG still
// appears atomically at its path; the checks of the plots' inputs throw as they are drawn.
// Plots not finished when the batch closes are not drawn.
class PlotBatch {
 public:
  PlotBatch();
  ~PlotBatch();
  PlotBatch(const PlotBatch&) = delete;
  PlotBatch& operator=(const PlotBatch&) = delete;
  // Renders every plot drawn since the batch opened (or last finished); throws pdiff::Error, as
  // a plot drawn alone would, for the first plot gnuplot did not make.
  void finish();

 private:
  std::unique_ptr<PlotBatchState> state_;
};

}  // namespace pdiff
