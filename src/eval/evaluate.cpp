#include "eval/evaluate.h"

#include <cstdio>
#include <optional>
#include <sstream>

#include "core/error.h"
#include "eval/bn_recalibration.h"
#include "eval/unit_repair.h"
#include "io/file_io.h"
#include "core/progress.h"
#include "core/run_lock.h"
#include "dist/group.h"
#include "eval/baseline_cache.h"
#include "eval/baselines.h"
#include "eval/distance.h"
#include "eval/report.h"
#include "gen/generate.h"
#include "gen/model_files.h"
#include "zoo/batch_schedule.h"
#include "zoo/ranks_evaluation.h"
#include "zoo/tail_evaluator.h"
#include "zoo/zoo_file.h"

namespace pdiff {

const GroupResult& EvalReport::group(const std::string& name) const {
  for (const auto& g : groups)
    if (g.name == name) return g;
  throw Error("report has no group '" + name + "'");
}

namespace {


// Completes a group's statistics against the originals' wrong sets and parameters (l2: the
// group's L2 distances to the originals, (M, K)).
void measure(GroupResult& g, const torch::Tensor& wrong, const torch::Tensor& orig_wrong, const torch::Tensor& l2,
             bool is_original) {
  g.acc = accuracy_stats(g.accuracy);
  g.max_sim = row_max(iou_matrix(wrong, orig_wrong), is_original);
  g.max_sim_mean = g.max_sim.mean().item<double>();
  g.nn_l2_median = row_min(l2, is_original).median().item<double>();
}

// The originals as the reference of the fidelity metrics, in both spaces.
struct FidelityReference {
  torch::Tensor params, wrong, scale;  // (K, D), (K, N), (D) the Standardizer's per-tensor std
  torch::Tensor param_dist, pred_dist;  // (K, K) each
  int64_t k = 5;
};

// scaled: the group's distances to the originals in the reference's scale, (M, K).
void measure_fidelity(GroupResult& g, const torch::Tensor& wrong, const FidelityReference& ref,
                      const torch::Tensor& scaled, bool is_original) {
  if (is_original) {
    g.param_fidelity = fidelity_of_reference(ref.param_dist, ref.k);
    g.pred_fidelity = fidelity_of_reference(ref.pred_dist, ref.k);
    return;
  }
  g.param_fidelity = fidelity(ref.param_dist, param_self_distances(g.params, ref.scale), scaled, ref.k);
  g.pred_fidelity = fidelity(ref.pred_dist, prediction_distances(wrong, wrong), prediction_distances(wrong, ref.wrong),
                             ref.k);
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

}  // namespace

std::string novelty_verdict(const EvalReport& r) {
  const auto& gen = r.group("generated");
  const auto& orig = r.group("original");
  std::ostringstream os;
  os << "Generated models: mean accuracy " << fmt("%.2f", gen.acc.mean) << " % (originals "
     << fmt("%.2f", orig.acc.mean) << " %), mean max-IoU to the originals " << fmt("%.3f", gen.max_sim_mean)
     << " (originals to each other " << fmt("%.3f", orig.max_sim_mean) << "). ";
  // Models that do not work are not new models: say so before any comparison of novelty.
  if (gen.acc.mean < orig.acc.min - 1.0) {
    os << "NO: the generated models do not work as well as the originals (mean " << fmt("%.2f", gen.acc.mean)
       << " % is more than 1 point below the weakest original, " << fmt("%.2f", orig.acc.min)
       << " %), so their novelty says nothing; see the generator's losses (ae_loss.csv, ldm_loss.csv).";
    return os.str();
  }
  // A baseline is "at equal accuracy" when its mean is no more than 0.1 points below the generated
  // mean. A rival is as novel at equal accuracy and not dominated by the generated models (the
  // dominance verdict's definition, ties included), so no sentence contradicts that verdict.
  std::vector<std::string> rivals, beaten;
  for (const auto& g : r.groups) {
    if (!is_baseline(g.name)) continue;
    if (g.acc.mean < gen.acc.mean - 0.1) continue;
    const bool dominated = compare(gen.acc.mean, gen.max_sim_mean, g.acc.mean, g.max_sim_mean) == Dominance::Dominates;
    (g.max_sim_mean <= gen.max_sim_mean && !dominated ? rivals : beaten).push_back(g.name);
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
    return s;
  };
  if (rivals.empty() && beaten.empty())
    os << "No baseline reaches the generated models' accuracy (within 0.1 points), so novelty at equal accuracy "
          "cannot be compared; the generated models are more accurate than every baseline.";
  else if (rivals.empty())
    os << "YES: at equal or better accuracy, every baseline (" << join(beaten)
       << ") is more similar to the originals than the generated models are, or no more novel and no more accurate.";
  else
    os << "NO: " << join(rivals) << " reach" << (rivals.size() == 1 ? "es" : "")
       << " the generated models' accuracy (within 0.1 points) while being at least as novel (lower or equal "
          "max-IoU); the generated models are not more novel than these simple baselines."
       << (beaten.empty() ? "" : " Less novel at equal accuracy: " + join(beaten) + ".");
  return os.str();
}

EvalReport evaluate(const RunContext& run, const EvalOptions& opts) {
  Stopwatch timer;
  const std::string& dir = run.dir;
  RunDirLock lock(dir, /*create=*/false);
  Zoo zoo = load_zoo(stage_input(dir + "/zoo.pt", "collect"));
  Generated gen = load_generated(stage_input(dir + "/generated.pt", "generate"));
  check_made_from(gen, dir + "/generated.pt", zoo, dir + "/zoo.pt");
  DataSplits data = load_dataset(opts.data);
  check(zoo.predictions.size(1) == data.test.size(),
        dir + "/zoo.pt was evaluated on " + std::to_string(zoo.predictions.size(1)) + " test images but the config's "
            "test set has " + std::to_string(data.test.size()) + "; use the config of that run");
  const std::string base_path = stage_input(dir + "/base.pt", "collect");

  const int64_t n = opts.baseline_n;
  auto rng = make_generator(run.seed, 400);
  Standardizer standardizer(zoo.params, zoo.layout, 1);
  std::vector<std::pair<std::string, torch::Tensor>> baselines = {
      {"ensemble", weight_average(zoo.params)},
      {"noise_std_0.001", noise_standardised(zoo.params, standardizer, 0.001, n, rng)},
      {"noise_std_0.05", noise_standardised(zoo.params, standardizer, 0.05, n, rng)},
      {"noise_std_0.15", noise_standardised(zoo.params, standardizer, 0.15, n, rng)},
      {"noise_raw_0.06", noise_raw(zoo.params, 0.06, n, rng)},
      {"noise_raw_0.12", noise_raw(zoo.params, 0.12, n, rng)},
      {"average16", average_of_random(zoo.params, 16, n, rng)},
      {"gaussian", gaussian_fit(zoo.params, n, rng)},
  };

  // The baselines' evaluation, the stage's longest part, is split across the ranks of a job:
  // each evaluates a contiguous share of the rows (every rank draws the same baselines from
  // the same seed) and the results are gathered in row order; the rest is rank 0's.
  std::vector<torch::Tensor> all;
  for (const auto& b : baselines) all.push_back(b.second);
  // Reused from baselines.pt when only the generator changed since they were evaluated.
  torch::Tensor all_params = torch::cat(all);
  const ClassifierSpec spec = classifier_spec(opts.model, data);
  const Classifier base = load_base(base_path, spec, run.device);
  // generate.recalibrate_bn: the baselines' statistics measured anew as the generated models'
  // were (the same batches), so that the comparison stays fair; the originals keep theirs.
  const BnRecalibration recalibrate(base, spec, zoo.layout, data, opts.recalibrate_bn, run.seed);
  const UnitRepair repair(base, spec, zoo.layout, data, zoo.params, opts.repair, run.seed);  // generate.repair: the same
  // One evaluator for the baselines (unless cached) and the barrier's models: its pass over
  // the test set's frozen prefix is made once.
  std::optional<TailEvaluator> evaluator;
  auto tail_evaluator = [&]() -> TailEvaluator& {
    if (!evaluator) evaluator.emplace(base, zoo.layout, data.test);
    return *evaluator;
  };
  if (recalibrate.active() || repair.active()) {
    all_params = repair(recalibrate(all_params));
    int64_t at = 0;
    for (auto& b : baselines) {
      b.second = all_params.slice(0, at, at + b.second.size(0));
      at += b.second.size(0);
    }
  }
  const std::string cache = dir + "/baselines.pt";
  std::optional<EvalResult> cached = load_baseline_results(cache, zoo, all_params);
  EvalResult r;
  if (cached) {
    r = *cached;
  } else {
    const int world = dist_world();
    std::vector<int64_t> counts(world);
    for (int k = 0; k < world; ++k) counts[k] = share_of(all_params.size(0), k, world).size();
    const Share mine = share_of(all_params.size(0), dist_rank(), world);
    r = evaluate_share(tail_evaluator(), all_params.slice(0, mine.begin, mine.end), counts, "baselines eval");
    if (is_main_rank()) save_baseline_results(cache, zoo, all_params, r);
  }
  // The report is rank 0's; the others wait until it is written.
  EvalReport report;
  report.recalibrate_bn = opts.recalibrate_bn;
  report.repair = opts.repair;
  report.align = opts.align;
  on_main_rank("eval: the report", [&] {
    // Linear mode connectivity: a few models on the lines between originals, recalibrated when
    // the generated models are (their BatchNorm statistics are the ends' mixed); not repaired: the
    // line is the zoo's own property, and the repair's targets are the whole zoo's average.
    const auto pairs = barrier_pairs(zoo.params.size(0), opts.barrier_pairs);
    if (!pairs.empty())
      report.barriers = accuracy_barriers(zoo.params, zoo.accuracy, pairs, [&](const torch::Tensor& rows) {
        return tail_evaluator().evaluate(recalibrate(rows), "barrier eval").accuracy;
      });
    const auto orig_wrong = wrong_sets(zoo.predictions, data.test.labels);
    FidelityReference ref;
    ref.params = zoo.params;
    ref.wrong = orig_wrong;
    ref.scale = standardizer.scale();
    ref.param_dist = param_self_distances(zoo.params, ref.scale);
    ref.pred_dist = prediction_distances(orig_wrong, orig_wrong);
    ref.k = report.nn_k = opts.nn_k;
    report.param_mode_threshold = mode_threshold(ref.param_dist, ref.k);
    report.pred_mode_threshold = mode_threshold(ref.pred_dist, ref.k);
    // Every other group's distances to the originals, raw and scaled, in one pass over the D
    // coordinates each (at large D each pass reads the whole zoo): rows of the generated
    // models first, then of each baseline in order.
    std::vector<torch::Tensor> others = {gen.params};
    for (const auto& b : baselines) others.push_back(b.second);
    const torch::Tensor others_l2 = param_distances(others, zoo.params);
    const torch::Tensor others_scaled = param_distances(others, zoo.params, ref.scale);
    int64_t row = 0;  // of others_l2 and others_scaled
    auto add = [&](const std::string& name, const torch::Tensor& params, const torch::Tensor& acc,
                   const torch::Tensor& preds) {
      GroupResult g;
      g.name = name;
      g.params = params;
      g.accuracy = acc.to(torch::kFloat64);
      auto wrong = wrong_sets(preds, data.test.labels);
      const bool original = name == "original";
      const int64_t m = params.size(0);
      measure(g, wrong, orig_wrong, original ? param_distances(zoo.params, zoo.params) : others_l2.slice(0, row, row + m),
              original);
      measure_fidelity(g, wrong, ref, original ? torch::Tensor() : others_scaled.slice(0, row, row + m), original);
      if (!original) row += m;
      report.groups.push_back(g);
      return wrong;
    };
    add("original", zoo.params, zoo.accuracy, zoo.predictions);
    auto gen_wrong = add("generated", gen.params, gen.accuracy, gen.predictions);
    int64_t at = 0;
    for (const auto& [name, params] : baselines) {
      const int64_t m = params.size(0);
      add(name, params, r.accuracy.slice(0, at, at + m), r.predictions.slice(0, at, at + m));
      at += m;
    }

    auto& s = report.similarity;
    s.origin_origin = off_diagonal_mean(iou_matrix(orig_wrong, orig_wrong));
    s.generated_generated = off_diagonal_mean(iou_matrix(gen_wrong, gen_wrong));
    s.origin_generated = iou_matrix(orig_wrong, gen_wrong).mean().item<double>();
    s.generated_max = report.group("generated").max_sim_mean;
    report.verdict = novelty_verdict(report);
    report.dominance = dominance_of_generated(report);
    report.dominance_verdict = dominance_verdict(report.dominance) + " " +
                               novelty_goal_sentence(report.dominance, s.generated_generated, s.origin_origin);

    const double eval_s = timer.seconds();
    report.timings_s = stage_timings(dir, eval_s);
    write_report(run, opts, report);
    record_config(dir, run.config_yaml);
  });
  return report;
}

}  // namespace pdiff
