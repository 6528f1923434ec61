#include "run/run.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "io/file_io.h"
#include "core/progress.h"
#include "core/run_lock.h"
#include "core/runtime.h"
#include "dist/group.h"
#include "eval/report.h"
#include "run/stage_options.h"
#include "zoo/zoo_file.h"

namespace pdiff {

namespace {

// Each check only reads headers it needs; any unreadable file counts as "not current".
template <class F>
bool current(F check_fn) {
  try {
    return check_fn();
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

StageStatus stage_status(const Config& cfg) {
  const std::string dir = cfg.s("run_dir");
  StageStatus s;
  s.collect = current([&] {
    return file_exists(dir + "/base.pt") &&
           load_zoo(dir + "/zoo.pt").fingerprint == stage_fingerprint(cfg, collect_config_keys());
  });
  s.ae = s.collect && current([&] {
           AeModel ae = load_ae(dir + "/ae.pt");
           return ae.fingerprint == stage_fingerprint(cfg, ae_config_keys()) &&
                  ae.zoo_fingerprint == stage_fingerprint(cfg, collect_config_keys());
         });
  s.train = s.ae && current([&] {  // trained on that autoencoder (its two fingerprints, checked above)
              LdmModel ldm = load_ldm(dir + "/ldm.pt");
              return ldm.fingerprint == stage_fingerprint(cfg, ldm_config_keys()) &&
                     ldm.ae_fingerprint ==
                         stage_fingerprint(cfg, ae_config_keys()) + stage_fingerprint(cfg, collect_config_keys());
            });
  s.generate = s.train && current([&] {
                 return load_generated(dir + "/generated.pt").fingerprint == stage_fingerprint(cfg, generate_config_keys());
               });
  s.eval = s.generate && current([&] {
             auto j = nlohmann::json::parse(read_text_file(dir + "/report.json"));
             return j.value("fingerprint", "") == stage_fingerprint(cfg, eval_config_keys());
           });
  return s;
}

void run_all(const Config& cfg) {
  Stopwatch timer;
  const RunContext run = run_context(cfg);
  const std::string& dir = run.dir;
  RunDirLock lock(dir, /*create=*/true);  // held across the stages, which take it again
  StageStatus s = stage_status(cfg);
  auto say = [](const char* stage, bool skip) {
    std::fprintf(stderr, "== %s: %s\n", stage, skip ? "up to date, skipped" : "running");
  };
  // The peak so far after each stage: which stage set the run's peak memory.
  auto done = [](const char* stage) {
    std::fprintf(stderr, "== %s: done; peak memory so far %.0f MB\n", stage, peak_resident_mb());
  };
  // An explicit ldm.subspace that the zoo cannot fill would stop the diffusion stage: say so
  // before the collection and the autoencoder, which take minutes (an import's size comes later).
  if (const int64_t r = train_options(cfg).ldm.subspace; !s.train && r > 0 && cfg.s("zoo.import").empty())
    check(r <= cfg.i("zoo.k"), "ldm.subspace = " + std::to_string(r) + " is more than zoo.k = " +
                                   std::to_string(cfg.i("zoo.k")) + " checkpoints: choose fewer directions (auto: 16) "
                                   "or more checkpoints");
  // In a job of several processes every rank sees the same files here, before anything runs;
  // every stage runs on every rank, each splitting its work (docs/distributed.md).
  say("collect", s.collect);
  if (!s.collect) {
    collect(run, collect_options(cfg));  // every rank: seeds-mode runs and the evaluation are split
    on_main_rank("collect", [&] {
      done("collect");
      // Later stages must not reuse outputs built on a zoo that was just re-collected.
      std::remove((dir + "/ae.pt").c_str()), std::remove((dir + "/ldm.pt").c_str());
    });
  }
  say("train", s.train);
  if (!s.train) {
    train(run, train_options(cfg));  // every rank: data-parallel
    on_main_rank("train", [&] { done("train"); });
  }
  say("generate", s.generate);
  if (!s.generate) generate(run, generate_options(cfg)), done("generate");
  say("eval", s.eval);
  if (!s.eval) {
    EvalReport r = evaluate(run, eval_options(cfg));  // every rank: the baselines are split
    if (is_main_rank())
      std::printf("\n%s\n%s\n\n%s\n\nReport: %s/report.md (plots beside it). Total %.1f s, peak memory %.0f MB.\n",
                  summary_table(r).c_str(), r.verdict.c_str(), r.dominance_verdict.c_str(), dir.c_str(),
                  timer.seconds(), peak_resident_mb());
  } else if (is_main_rank()) {
    std::printf("Every stage is up to date; the report is %s/report.md\n", dir.c_str());
    std::printf("%s", read_text_file(dir + "/report.md").c_str());
  }
}

}  // namespace pdiff
