#include "eval/report.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "io/file_io.h"
#include "eval/plots.h"
#include "eval/projection.h"
#include "gen/generate.h"
#include "gen/model_files.h"
#include "zoo/zoo_file.h"

namespace pdiff {

namespace {

using json = nlohmann::json;

// JSON has no NaN: write null for an undefined figure (e.g. IoU within a group of one).
json json_number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json fidelity_json(const Fidelity& f) {
  return {{"precision", json_number(f.precision)},
          {"recall", json_number(f.recall)},
          {"density", json_number(f.density)},
          {"coverage", json_number(f.coverage)},
          {"modes", f.modes >= 0 ? json(f.modes) : json(nullptr)}};
}

// A figure for a markdown table; "n/a" where it is undefined.
std::string cell(const char* format, double v) {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}
std::string modes_cell(int64_t modes) { return modes >= 0 ? std::to_string(modes) : "n/a"; }

std::vector<double> to_vec(const torch::Tensor& t) {
  auto c = t.to(torch::kFloat64).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

std::vector<double> read_loss_csv(const std::string& path) {
  std::vector<double> out;
  if (!file_exists(path)) return out;
  std::istringstream in(read_text_file(path));
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    auto comma = line.find(',');
    if (comma != std::string::npos) out.push_back(std::stod(line.substr(comma + 1)));
  }
  return out;
}

// Linear mode connectivity: each pair's accuracy along its line, and what it says.
std::string barrier_section(const EvalReport& r) {
  if (r.barriers.empty()) return "";
  std::ostringstream md;
  md << "## Linear mode connectivity\n\nTest accuracy (%) on the straight line between pairs of originals, and the "
        "barrier: the largest drop below the line joining the two ends (`eval.barrier_pairs`). "
     << (r.align == "none" ? "" : "These are the checkpoints as aligned (`zoo.align = " + r.align + "`); the same "
                                  "import with `zoo.align=none` shows them before. ")
     << "A barrier of a few points or more means averaging (and generating between) the originals crosses a region "
        "where the network fails.\n\n| pair | 0 | 1/4 | 1/2 | 3/4 | 1 | barrier |\n|---|---:|---:|---:|---:|---:|---:|\n";
  double worst = 0, sum = 0;
  char buf[64];
  for (const auto& c : r.barriers) {
    md << "| " << c.a << " - " << c.b;
    for (double a : c.accuracy) std::snprintf(buf, sizeof buf, " | %.2f", a), md << buf;
    std::snprintf(buf, sizeof buf, " | %.2f |\n", c.barrier);
    md << buf;
    worst = std::max(worst, c.barrier);
    sum += c.barrier;
  }
  std::snprintf(buf, sizeof buf, "\nMean barrier %.2f points, largest %.2f.\n\n", sum / r.barriers.size(), worst);
  md << buf << "![linear mode connectivity](barrier.png)\n\n";
  return md.str();
}

void write_plots(const RunContext& run, const EvalOptions& opts, const EvalReport& r, const std::string& dir) {
  PlotBatch batch;  // one gnuplot for every plot of the report
  if (!r.barriers.empty()) {
    std::vector<Series> lines;
    for (const auto& c : r.barriers)
      lines.push_back({"originals " + std::to_string(c.a) + " - " + std::to_string(c.b), c.alpha, c.accuracy});
    plot_lines(dir + "/barrier.png", "Test accuracy on the line between two originals (linear mode connectivity)",
               "alpha: (1 - alpha) * first + alpha * second", "test accuracy (%)", lines);
  }
  std::vector<Series> scatter;
  for (const auto& g : r.groups) scatter.push_back({g.name, to_vec(g.max_sim), to_vec(g.accuracy)});
  plot_scatter(dir + "/accuracy_vs_similarity.png",
               "Accuracy vs max similarity to the originals (lower IoU = more novel)",
               "max IoU of wrong-prediction sets to any (other) original", "test accuracy (%)", scatter);

  std::vector<FrontSeries> fronts;
  for (const auto& g : r.groups) {
    FrontSeries f{g.name, to_vec(g.max_sim), to_vec(g.accuracy), {}, {}, g.max_sim_mean, g.acc.mean};
    for (size_t i : pareto_front(f.x, f.y)) f.front_x.push_back(f.x[i]), f.front_y.push_back(f.y[i]);
    fronts.push_back(f);
  }
  plot_fronts(dir + "/dominance.png",
              "Models, Pareto front (steps) and mean (large) of each group; up and left is better",
              "max IoU of wrong-prediction sets to any (other) original (lower = more novel)", "test accuracy (%)",
              fronts);

  plot_histograms(dir + "/accuracy_histogram.png", "Test accuracy: originals vs generated", "test accuracy (%)",
                  {{"original", to_vec(r.group("original").accuracy), {}},
                   {"generated", to_vec(r.group("generated").accuracy), {}}});

  std::vector<torch::Tensor> points;
  std::vector<std::pair<std::string, int64_t>> spans;
  for (const auto& g : r.groups) {
    points.push_back(g.params);
    spans.emplace_back(g.name, g.params.size(0));
  }
  // Every coordinate standardised so no single tensor dominates the projection; through the
  // Gram matrix, so that whole networks' vectors are never copied (eval/projection.h).
  const torch::Tensor gram = standardised_gram(points);
  auto project = [&](const torch::Tensor& y, const std::string& path, const std::string& title) {
    std::vector<Series> s;
    int64_t at = 0;
    for (const auto& [name, m] : spans) {
      auto part = y.slice(0, at, at + m);
      s.push_back({name, to_vec(part.select(1, 0)), to_vec(part.select(1, 1))});
      at += m;
    }
    plot_scatter(path, title, "component 1", "component 2", s);
  };
  project(pca_2d_of_gram(gram), dir + "/projection_pca.png", "PCA of parameter vectors (standardised per coordinate)");
  if (opts.tsne)
    project(tsne_2d_of_distances(squared_distances_of_gram(gram), 30, 750, run.seed),
            dir + "/projection_tsne.png", "t-SNE of parameter vectors");

  std::vector<Series> losses;
  for (const auto& [name, file] : {std::pair<std::string, std::string>{"autoencoder (MSE)", "ae_loss.csv"},
                                   {"diffusion (epsilon MSE)", "ldm_loss.csv"}}) {
    auto y = read_loss_csv(dir + "/" + file);
    if (y.empty()) continue;
    std::vector<double> x(y.size());
    for (size_t i = 0; i < x.size(); ++i) x[i] = double(i + 1);
    losses.push_back({name, x, y});
  }
  if (!losses.empty())
    plot_lines(dir + "/training_loss.png", "Training loss", "step", "loss (log scale)", losses, /*log_y=*/true);
  batch.finish();
}

}  // namespace

std::vector<std::pair<std::string, double>> stage_timings(const std::string& dir, double eval_seconds) {
  std::vector<std::pair<std::string, double>> t;
  t.emplace_back("collect", load_zoo(dir + "/zoo.pt").collect_seconds);
  t.emplace_back("train_ae", load_ae(dir + "/ae.pt").train_seconds);
  t.emplace_back("train_ldm", load_ldm(dir + "/ldm.pt").train_seconds);
  Generated g = load_generated(dir + "/generated.pt");
  t.emplace_back("generate", g.sample_seconds + g.eval_seconds);
  t.emplace_back("eval", eval_seconds);
  double total = 0;
  for (const auto& [k, v] : t) total += v;
  t.emplace_back("total", total);
  return t;
}

std::string summary_table(const EvalReport& r) {
  std::ostringstream os;
  os << "| group | n | best | mean | median | min | std | max-IoU to originals | NN L2 (median) |\n"
     << "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  char buf[256];
  for (const auto& g : r.groups) {
    std::snprintf(buf, sizeof buf, "| %s | %lld | %.2f | %.2f | %.2f | %.2f | %.3f | %.3f | %.4g |\n", g.name.c_str(),
                  (long long)g.acc.n, g.acc.best, g.acc.mean, g.acc.median, g.acc.min, g.acc.std, g.max_sim_mean,
                  g.nn_l2_median);
    os << buf;
  }
  return os.str();
}

std::string fidelity_table(const EvalReport& r) {
  std::ostringstream os;
  os << "| group | n | param precision | recall | density | coverage | modes | pred precision | recall | density "
        "| coverage | modes |\n"
     << "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& g : r.groups) {
    os << "| " << g.name << " | " << g.acc.n;
    for (const Fidelity* f : {&g.param_fidelity, &g.pred_fidelity})
      os << " | " << cell("%.3f", f->precision) << " | " << cell("%.3f", f->recall) << " | "
         << cell("%.3f", f->density) << " | " << cell("%.3f", f->coverage) << " | " << modes_cell(f->modes);
    os << " |\n";
  }
  return os.str();
}

std::string dominance_table(const EvalReport& r) {
  std::ostringstream os;
  os << "| baseline | mean accuracy (%) | mean max-IoU | generated - baseline: accuracy (points) | max-IoU | "
        "generated models |\n|---|---:|---:|---:|---:|---|\n";
  for (const auto& row : r.dominance) {
    const auto& g = r.group(row.baseline);
    os << "| " << row.baseline << " | " << cell("%.2f", g.acc.mean) << " | " << cell("%.3f", g.max_sim_mean) << " | "
       << cell("%+.2f", row.acc_diff) << " | " << cell("%+.3f", row.sim_diff) << " | "
       << (row.result == Dominance::Dominates   ? "dominate it"
           : row.result == Dominance::Dominated ? "are dominated"
                                                : "neither")
       << " |\n";
  }
  return os.str();
}

void write_report(const RunContext& run, const EvalOptions& opts, const EvalReport& r) {
  const std::string& dir = run.dir;
  json groups = json::object();
  for (const auto& g : r.groups)
    groups[g.name] = {{"n", g.acc.n},
                      {"acc",
                       {{"best", g.acc.best}, {"mean", g.acc.mean}, {"median", g.acc.median}, {"min", g.acc.min},
                        {"std", g.acc.std}}},
                      {"max_sim", {{"mean", json_number(g.max_sim_mean)}}},
                      {"nn_l2", {{"median", json_number(g.nn_l2_median)}}},
                      {"fidelity", {{"param", fidelity_json(g.param_fidelity)}, {"pred", fidelity_json(g.pred_fidelity)}}}};
  json dominance = json::object();
  for (const auto& row : r.dominance)
    dominance[row.baseline] = {{"result", to_string(row.result)},
                               {"acc_diff", json_number(row.acc_diff)},
                               {"max_sim_diff", json_number(row.sim_diff)}};
  json timings = json::object();
  for (const auto& [k, v] : r.timings_s) timings[k] = v;
  json barriers = json::array();
  for (const auto& c : r.barriers)
    barriers.push_back({{"a", c.a}, {"b", c.b}, {"alpha", c.alpha}, {"accuracy", c.accuracy}, {"barrier", c.barrier}});
  const auto& s = r.similarity;
  json report = {{"config", opts.config},
                 {"groups", groups},
                 {"similarity",
                  {{"origin_origin", json_number(s.origin_origin)},
                   {"generated_generated", json_number(s.generated_generated)},
                   {"origin_generated", json_number(s.origin_generated)},
                   {"generated_max", json_number(s.generated_max)}}},
                 {"fidelity",
                  {{"k", r.nn_k},
                   {"param_distance", "L2 on vectors divided by each tensor's std over the originals"},
                   {"pred_distance", "1 - IoU of wrong-prediction sets"},
                   {"param_mode_threshold", json_number(r.param_mode_threshold)},
                   {"pred_mode_threshold", json_number(r.pred_mode_threshold)}}},
                 {"dominance", {{"generated_vs", dominance}, {"verdict", r.dominance_verdict}}},
                 {"timings_s", timings},
                 {"training_precision", precision_name(run.precision)},
                 {"recalibrate_bn", r.recalibrate_bn},
                 {"repair", r.repair},
                 {"barrier", {{"pairs", barriers}, {"zoo_align", r.align}}},
                 {"eval_device", run.device.str()},
                 {"verdict", r.verdict},
                 {"fingerprint", opts.fingerprint}};

  write_plots(run, opts, r, dir);

  std::ostringstream md;
  char buf[512];
  md << "# p-diff report: " << opts.data.name << " / " << opts.model.arch << " (`" << dir << "`)\n\n"
     << "Test accuracy in percent over the test set; similarity is the IoU of the sets of wrongly classified test "
        "images; max-IoU is each model's highest IoU to any original (to any *other* original for the originals); "
        "NN L2 is the distance to the nearest (other) original in parameter space.\n\n"
     << summary_table(r) << "\n";
  if (r.recalibrate_bn > 0)
    md << "BatchNorm running statistics of the generated models and of every baseline group were measured anew on "
       << r.recalibrate_bn << " training batches of 128 before evaluation (`generate.recalibrate_bn`); the originals "
          "keep the statistics they were collected with.\n\n";
  if (r.repair > 0)
    md << "Every hidden unit of the generated models and of every baseline group was rescaled so that its pre-activation mean and standard deviation on "
       << r.repair << " training batches of 128 match the originals' average for that unit before evaluation "
          "(`generate.repair`, REPAIR); the originals and the lines between them are as collected.\n\n";
  md << barrier_section(r) << "## Similarity (mean IoU)\n\n";
  std::snprintf(buf, sizeof buf,
                "| origin-origin | generated-generated | origin-generated | generated max |\n|---:|---:|---:|---:|\n"
                "| %.3f | %.3f | %.3f | %.3f |\n\n",
                s.origin_origin, s.generated_generated, s.origin_generated, s.generated_max);
  md << buf << "## Fidelity and diversity against the originals (k = " << r.nn_k << ")\n\n"
     << "k-nearest-neighbour manifolds (Kynkaanniemi et al. 2019; density and coverage: Naeem et al. 2020), with "
        "k = " << r.nn_k << " (`eval.nn_k`; 5 is the value Naeem et al. recommend). Each original's ball reaches its "
        "k-th nearest other original. **Precision**: share of the group's models inside some original's ball "
        "(fidelity); **recall**: share of the originals inside the ball of some model (reaching the group's own k-th "
        "nearest other model); **density**: balls holding a model, per model, divided by k (about 1 for a fresh "
        "sample of the originals' distribution, above 1 where models pile up); **coverage**: share of the originals "
        "whose nearest model lies inside their ball. Recall and coverage measure diversity. **param**: L2 on "
        "parameter vectors divided by each tensor's std over the originals (the generator's standardised space, "
        "where the noise_std baselines are drawn), so that every tensor counts by its size and not by its units "
        "(raw L2 would let the tensors with the largest values decide). **pred**: 1 - IoU of the wrong-prediction "
        "sets (the similarity of max-IoU, as a distance). **Modes**: clusters of the group when any two models "
        "at most the originals' median ball radius apart ("
     << cell("%.4g", r.param_mode_threshold) << " param, " << cell("%.4g", r.pred_mode_threshold)
     << " pred) are joined (single linkage); a collapsed group is 1 mode, the originals' own count is the "
        "reference. The originals' row leaves each original out of its own comparison (coverage and density are then "
        "1). These metrics do not detect copies: a copy of the originals scores 1 on all four; novelty is the "
        "max-IoU and NN L2 above. n/a: undefined (recall needs more than k models).\n\n"
     << fidelity_table(r) << "\n## Dominance\n\n"
     << "Generated models against each baseline on mean accuracy and mean max-IoU to the originals: they dominate a "
        "baseline when their mean accuracy is >= its mean and their mean max-IoU <= its mean (ties count), are "
        "dominated when the baseline is >= and <= with one strict, and neither otherwise. The plot "
        "`dominance.png` shows every group's models, Pareto front and mean.\n\n"
     << dominance_table(r) << "\n## Verdict\n\n" << r.verdict << "\n\n" << r.dominance_verdict << "\n\n";
  const auto &gen = r.group("generated"), &orig = r.group("original");
  std::snprintf(buf, sizeof buf,
                "Paper claim (generated >= originals): best %.2f vs %.2f, mean %.2f vs %.2f: %s.\n\n", gen.acc.best,
                orig.acc.best, gen.acc.mean, orig.acc.mean,
                gen.acc.best >= orig.acc.best && gen.acc.mean >= orig.acc.mean ? "held" : "did not hold");
  md << buf << "## Timings (s)\n\nTraining in " << precision_name(run.precision) << "; evaluation in fp32 on "
     << run.device.str() << ".\n\n| stage | seconds |\n|---|---:|\n";
  for (const auto& [k, v] : r.timings_s) {
    std::snprintf(buf, sizeof buf, "| %s | %.1f |\n", k.c_str(), v);
    md << buf;
  }
  md << "\n## Plots\n\n![accuracy vs similarity](accuracy_vs_similarity.png)\n\n![dominance](dominance.png)\n\n"
     << "![accuracy histogram](accuracy_histogram.png)\n\n![PCA](projection_pca.png)\n\n"
     << (opts.tsne ? "![t-SNE](projection_tsne.png)\n\n" : "") << "![training loss](training_loss.png)\n";
  write_file_atomic(dir + "/report.md", md.str());
  write_file_atomic(dir + "/report.json", report.dump(2) + "\n");  // last: its presence marks a finished eval
}

}  // namespace pdiff
