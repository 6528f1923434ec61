#include "gen/generate.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "io/file_io.h"
#include "core/progress.h"
#include "io/rows_writer.h"
#include "core/run_lock.h"
#include "dist/group.h"
#include "eval/bn_recalibration.h"
#include "eval/unit_repair.h"
#include "gen/model_files.h"
#include "gen/train.h"
#include "models/torchscript.h"
#include "zoo/collect.h"
#include "zoo/tail_evaluator.h"
#include "zoo/zoo_file.h"

namespace pdiff {

namespace {
const char* kGenerateHint = "re-create it with `pdiff generate`";

}  // namespace

void generate(const RunContext& run, const GenerateOptions& opts) {
  const std::string& dir = run.dir;
  RunDirLock lock(dir, /*create=*/false);
  Zoo zoo = load_zoo(stage_input(dir + "/zoo.pt", "collect"));
  AeModel ae = load_ae(stage_input(dir + "/ae.pt", "train"));
  LdmModel ldm = load_ldm(stage_input(dir + "/ldm.pt", "train"));
  check_same_layout(zoo.layout, dir + "/zoo.pt", ae.layout, dir + "/ae.pt");
  check_same_layout(zoo.layout, dir + "/zoo.pt", ldm.layout, dir + "/ldm.pt");
  check(ae.zoo_fingerprint == zoo.fingerprint,
        dir + "/ae.pt was trained on another zoo.pt (collected with other settings); run `pdiff train` again");
  check(ldm.ae_fingerprint == ae.fingerprint + ae.zoo_fingerprint,
        dir + "/ldm.pt was trained on another ae.pt; run `pdiff train` again");
  ae.net->to(run.device);
  ldm.ema->to(run.device);

  DataSplits data = load_dataset(opts.data);
  ClassifierSpec spec = classifier_spec(opts.model, data);
  check(spec.arch == zoo.arch, "model.arch = " + spec.arch + " but zoo.pt holds " + zoo.arch +
                                   " checkpoints; give the run's settings (--run " + dir +
                                   " reads its config.yaml) or collect again");
  Classifier base = load_base(stage_input(dir + "/base.pt", "collect"), spec, run.device);

  const SamplingOptions& sampling = opts.sampling;
  const int64_t n = opts.n, batch = opts.batch, d = zoo.layout.dim();
  const int world = dist_world(), rank = dist_rank();
  Generated g;
  TailEvaluator evaluator(base, zoo.layout, data.test);
  const BnRecalibration recalibrate(base, spec, zoo.layout, data, opts.recalibrate_bn, run.seed);
  const UnitRepair repair(base, spec, zoo.layout, data, zoo.params, opts.repair, run.seed);
  // Batch b is models [b * batch, (b + 1) * batch) whatever the number of processes, so each
  // model is sampled in the same batch and comes out the same bits; round j's batches
  // j * world + r go to rank r, which samples and evaluates its batch, and rank 0 appends the
  // round's rows, gathered in rank order, to the file. Written a batch at a time: whole
  // networks' models are never all in memory (io/rows_writer.h).
  const std::string partial = dir + "/generated.pt.partial";
  std::unique_ptr<RowsWriter> rows;
  if (is_main_rank()) rows = std::make_unique<RowsWriter>(partial, n, d);
  std::vector<torch::Tensor> accuracy, predictions;
  double sample_seconds = 0, eval_seconds = 0;
  {
    Progress progress("generate", n, "models");
    for (int64_t round = 0; round * world * batch < n; ++round) {
      std::vector<int64_t> counts(world);
      for (int r = 0; r < world; ++r)
        counts[r] = std::clamp<int64_t>(n - (round * world + r) * batch, 0, batch);
      const int64_t first = (round * world + rank) * batch, count = counts[rank];
      Stopwatch sample_timer;
      torch::Tensor part = count > 0 ? sample_parameters(ae, ldm, sampling, first, count).to(torch::kFloat32).cpu()
                                     : torch::empty({0, d});
      if (count > 0 && torch::isfinite(part).all().item<bool>()) part = repair(recalibrate(part));
      sample_seconds += sample_timer.seconds();
      // Every rank learns whether any sample diverged, so that all stop together.
      const bool finite = torch::isfinite(part).all().item<bool>();
      EvalResult r;
      Stopwatch eval_timer;
      if (finite && count > 0) r = evaluator.evaluate(part);
      eval_seconds += eval_timer.seconds();
      const torch::Tensor ok = dist_gather_rows(torch::full({1}, finite ? 1 : 0, torch::kInt32),
                                                std::vector<int64_t>(world, 1), "generate: checking the samples");
      if (ok.min().item<int>() == 0) {
        if (rows) rows.reset(), std::remove(partial.c_str());
        throw Error("generated parameters contain NaN or infinity; the diffusion model diverged: retrain with a "
                    "lower ldm.lr");
      }
      if (count == 0) {  // more ranks than this round's batches
        r.accuracy = torch::empty({0}, torch::kFloat64);
        r.predictions = torch::empty({0, data.test.size()}, torch::kUInt8);
      }
      const torch::Tensor all = dist_gather_rows(part, counts, "generate: gathering the samples");
      accuracy.push_back(dist_gather_rows(r.accuracy.cpu(), counts, "generate: gathering the accuracies"));
      predictions.push_back(dist_gather_rows(r.predictions.cpu(), counts, "generate: gathering the predictions"));
      if (rows)
        for (int64_t i = 0; i < all.size(0); ++i) rows->append(all[i]);
      progress.tick(all.size(0));
    }
  }
  g.sample_seconds = sample_seconds;
  g.eval_seconds = eval_seconds;
  EvalResult r{torch::cat(predictions), torch::cat(accuracy)};
  // The file is rank 0's; the others wait until it is in place (a later stage reads it).
  on_main_rank("generate: writing generated.pt", [&] {
    g.params = rows->written();
    DictFile f;
    f.set_tensor("params", g.params);
    f.set_tensor("accuracy", r.accuracy.to(torch::kFloat32));
    f.set_tensor("predictions", r.predictions);
    zoo.layout.save(f);
    f.set("sampler", sampling.sampler);
    f.set("steps", sampling.sampler == "ddpm" ? ldm.schedule.timesteps : sampling.steps);
    f.set("seed", static_cast<int64_t>(sampling.seed));
    f.set("config", run.config_yaml);
    f.set("fingerprint", opts.fingerprint);
    f.set("zoo_fingerprint", zoo.fingerprint);
    f.set("sample_seconds", g.sample_seconds);
    f.set("eval_seconds", g.eval_seconds);
    rows->finish(f, "pdiff.generated", kGeneratedFormatVersion, dir + "/generated.pt");
    record_config(dir, run.config_yaml);
    // Exports of the previous generated.pt would now name other models: removed.
    const auto stale = exported_files(dir);
    for (const auto& path : stale) std::remove(path.c_str());
    if (!stale.empty())
      std::fprintf(stderr, "removed %zu files exported from the previous generated.pt (generated_I.pt); "
                           "`pdiff export` writes them anew\n", stale.size());
    auto acc = r.accuracy;
    std::fprintf(stderr,
                 "generated %lld models in %.1f s (+%.1f s eval): accuracy best %.2f mean %.2f median %.2f min %.2f %% "
                 "| originals best %.2f mean %.2f\n",
                 (long long)n, g.sample_seconds, g.eval_seconds, acc.max().item<double>(), acc.mean().item<double>(),
                 acc.median().item<double>(), acc.min().item<double>(), zoo.accuracy.max().item<double>(),
                 zoo.accuracy.mean().item<double>());
  });
}

Generated load_generated(const std::string& path) {
  DictFile f = DictFile::load(path, "pdiff.generated", kGeneratedFormatVersion, kGenerateHint);
  Generated g;
  g.params = f.tensor("params");
  g.accuracy = f.tensor("accuracy");
  g.predictions = f.tensor("predictions");
  g.layout = ParamLayout::load(f);
  g.fingerprint = f.str("fingerprint");
  g.zoo_fingerprint = f.str("zoo_fingerprint");
  g.sample_seconds = f.number("sample_seconds");
  g.eval_seconds = f.number("eval_seconds");
  check(g.params.dim() == 2 && g.params.size(1) == g.layout.dim() && g.accuracy.size(0) == g.params.size(0),
        path + ": params, accuracy and layout disagree; " + kGenerateHint);
  return g;
}

void check_made_from(const Generated& g, const std::string& generated_path, const Zoo& zoo,
                     const std::string& zoo_path) {
  check_same_layout(zoo.layout, zoo_path, g.layout, generated_path);
  check(g.zoo_fingerprint == zoo.fingerprint,
        generated_path + " was generated from another " + zoo_path +
            " (collected with other settings); run `pdiff train` and `pdiff generate` again, or `pdiff run`");
}

namespace {
// One model of g, written to out_path (and, for a TorchScript model, the module beside it).
std::vector<std::string> write_export(const Generated& g, Classifier& model, int64_t index, const std::string& out_path,
                                      const std::string& rank) {
  const std::filesystem::path parent = std::filesystem::path(out_path).parent_path();
  std::error_code ec;
  check(parent.empty() || std::filesystem::is_directory(parent, ec),
        "--out " + out_path + ": the folder " + parent.string() + " does not exist; create it (mkdir -p " +
            parent.string() + ") or choose another --out");
  g.layout.assign(model, g.params[index]);
  save_base(out_path, model);
  std::vector<std::string> written{out_path};
  std::fprintf(stderr, "wrote model %lld (test accuracy %.2f %%%s, as measured by generate) as a state dict to %s\n",
               (long long)index, g.accuracy[index].item<double>(), rank.c_str(), out_path.c_str());
  if (auto* script = dynamic_cast<TorchScriptImpl*>(model.get())) {
    // The module itself with the generated weights inside, ready for torch.jit.load.
    const std::string stem = out_path.size() > 3 && out_path.compare(out_path.size() - 3, 3, ".pt") == 0
                                 ? out_path.substr(0, out_path.size() - 3)
                                 : out_path;
    script->save_module(stem + ".script.pt");
    written.push_back(stem + ".script.pt");
    std::fprintf(stderr, "wrote model %lld as a TorchScript module to %s.script.pt\n", (long long)index, stem.c_str());
  }
  return written;
}
}  // namespace

std::vector<std::string> export_models(const RunContext& run, const ExportOptions& opts, const ExportChoice& which,
                                       const std::string& out_path) {
  const std::string& dir = run.dir;
  RunDirLock lock(dir, /*create=*/false);
  Generated g = load_generated(stage_input(dir + "/generated.pt", "generate"));
  check_made_from(g, dir + "/generated.pt", load_zoo(stage_input(dir + "/zoo.pt", "collect")), dir + "/zoo.pt");
  const int64_t n = g.params.size(0);
  std::vector<int64_t> indices = which.indices;
  if (which.best) indices = {g.accuracy.argmax().item<int64_t>()};
  if (which.all)
    for (int64_t i = 0; i < n; ++i) indices.push_back(i);
  if (indices.empty()) indices = {0};
  for (int64_t i : indices)
    check(i >= 0 && i < n, "--index " + std::to_string(i) + " is out of range: " + dir + "/generated.pt holds " +
                               std::to_string(n) + " models (0 to " + std::to_string(n - 1) + ")");
  DataSplits data = load_dataset(opts.data);
  Classifier model = load_base(stage_input(dir + "/base.pt", "collect"), classifier_spec(opts.model, data));
  const auto order = g.accuracy.argsort(0, /*descending=*/true);
  std::vector<std::string> written;
  for (int64_t i : indices) {
    const int64_t rank = order.eq(i).nonzero().item<int64_t>() + 1;
    const std::string rank_note = rank == 1 ? ", the best of " + std::to_string(n)
                                            : ", number " + std::to_string(rank) + " of " + std::to_string(n) + " by accuracy";
    const std::string name = "generated_" + std::to_string(i) + ".pt";
    const std::string path = indices.size() == 1 ? (out_path.empty() ? dir + "/" + name : out_path)
                                                 : (out_path.empty() ? dir : out_path) + "/" + name;
    for (auto& f : write_export(g, model, i, path, rank_note)) written.push_back(f);
  }
  return written;
}

void export_model(const RunContext& run, const ExportOptions& opts, int64_t index, const std::string& out_path) {
  export_models(run, opts, ExportChoice{{index}}, out_path);
}

std::vector<std::string> exported_files(const std::string& dir) {
  std::vector<std::string> out;
  if (!std::filesystem::is_directory(dir)) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("generated_", 0) != 0) continue;
    std::string rest = name.substr(10);
    const size_t digits = rest.find_first_not_of("0123456789");
    if (digits == 0 || digits == std::string::npos) continue;
    rest = rest.substr(digits);
    if (rest == ".pt" || rest == ".script.pt") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace pdiff
