#include "gen/generate.h"

#include <cstdio>

#include "core/error.h"
#include "io/file_io.h"
#include "core/progress.h"
#include "io/rows_writer.h"
#include "core/run_lock.h"
#include "gen/model_files.h"
#include "gen/train.h"
#include "models/torchscript.h"
#include "zoo/collect.h"
#include "zoo/tail_evaluator.h"
#include "zoo/zoo_file.h"

namespace pdiff {

namespace {
const char* kGenerateHint = "re-create it with `pdiff generate`";

std::string need(const std::string& path, const std::string& command) {
  check(file_exists(path), path + ": not found; run `pdiff " + command + "` with this config first");
  return path;
}
}  // namespace

void generate(const RunContext& run, const GenerateOptions& opts) {
  const std::string& dir = run.dir;
  RunDirLock lock(dir, /*create=*/false);
  Zoo zoo = load_zoo(need(dir + "/zoo.pt", "collect"));
  AeModel ae = load_ae(need(dir + "/ae.pt", "train"));
  LdmModel ldm = load_ldm(need(dir + "/ldm.pt", "train"));
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
  check(spec.arch == zoo.arch, "model.arch = " + spec.arch + " but zoo.pt holds " + zoo.arch + " checkpoints");
  Classifier base = load_base(need(dir + "/base.pt", "collect"), spec, run.device);

  const SamplingOptions& sampling = opts.sampling;
  const int64_t n = opts.n, batch = opts.batch;
  Generated g;
  Stopwatch sample_timer;
  // Written a batch at a time and read back for evaluation: whole networks' models are never
  // all in memory (io/rows_writer.h).
  const std::string partial = dir + "/generated.pt.partial";
  RowsWriter rows(partial, n, zoo.layout.dim());
  {
    Progress progress("generate", n, "models");
    for (int64_t first = 0; first < n; first += batch) {
      int64_t count = std::min(batch, n - first);
      const torch::Tensor part = sample_parameters(ae, ldm, sampling, first, count).to(torch::kFloat32);
      if (!torch::isfinite(part).all().item<bool>()) {
        std::remove(partial.c_str());
        throw Error("generated parameters contain NaN or infinity; the diffusion model diverged: retrain with a "
                    "lower ldm.lr");
      }
      for (int64_t i = 0; i < count; ++i) rows.append(part[i]);
      progress.tick(count);
    }
  }
  g.params = rows.written();
  g.sample_seconds = sample_timer.seconds();
  Stopwatch eval_timer;
  TailEvaluator evaluator(base, zoo.layout, data.test);
  EvalResult r = evaluator.evaluate(g.params, "generated eval");
  g.eval_seconds = eval_timer.seconds();

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
  rows.finish(f, "pdiff.generated", kGeneratedFormatVersion, dir + "/generated.pt");
  auto acc = r.accuracy;
  std::fprintf(stderr,
               "generated %lld models in %.1f s (+%.1f s eval): accuracy best %.2f mean %.2f median %.2f min %.2f %% "
               "| originals best %.2f mean %.2f\n",
               (long long)n, g.sample_seconds, g.eval_seconds, acc.max().item<double>(), acc.mean().item<double>(),
               acc.median().item<double>(), acc.min().item<double>(), zoo.accuracy.max().item<double>(),
               zoo.accuracy.mean().item<double>());
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

void export_model(const RunContext& run, const ExportOptions& opts, int64_t index, const std::string& out_path) {
  const std::string& dir = run.dir;
  RunDirLock lock(dir, /*create=*/false);
  Generated g = load_generated(need(dir + "/generated.pt", "generate"));
  check_made_from(g, dir + "/generated.pt", load_zoo(need(dir + "/zoo.pt", "collect")), dir + "/zoo.pt");
  check(index >= 0 && index < g.params.size(0), "--index " + std::to_string(index) + " is out of range: " +
                                                     dir + "/generated.pt holds " +
                                                     std::to_string(g.params.size(0)) + " models");
  DataSplits data = load_dataset(opts.data);
  Classifier model = load_base(need(dir + "/base.pt", "collect"), classifier_spec(opts.model, data));
  g.layout.assign(model, g.params[index]);
  save_base(out_path, model);
  std::fprintf(stderr, "wrote model %lld (test accuracy %.2f %%) as a state dict to %s\n", (long long)index,
               g.accuracy[index].item<double>(), out_path.c_str());
  if (auto* script = dynamic_cast<TorchScriptImpl*>(model.get())) {
    // The module itself with the generated weights inside, ready for torch.jit.load.
    const std::string stem = out_path.size() > 3 && out_path.compare(out_path.size() - 3, 3, ".pt") == 0
                                 ? out_path.substr(0, out_path.size() - 3)
                                 : out_path;
    script->save_module(stem + ".script.pt");
    std::fprintf(stderr, "wrote model %lld as a TorchScript module to %s.script.pt\n", (long long)index, stem.c_str());
  }
}

}  // namespace pdiff
