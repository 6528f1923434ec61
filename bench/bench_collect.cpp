// Speed of zoo collection on this machine, in one run:
//   the whole benchmark collection (base training included) into a fresh run directory,
//   base-training images/s, and the speed-up of tail-only over full-forward evaluation.
// Usage: bench_collect [section.key=value ...]   (default: the benchmark task; run_dir is
// replaced by a temporary directory unless given)
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "core/config.h"
#include "io/file_io.h"
#include "core/progress.h"
#include "core/runtime.h"
#include "run/stage_options.h"
#include "zoo/collect.h"
#include "zoo/tail_evaluator.h"
#include "zoo/zoo_file.h"

using namespace pdiff;

int main(int argc, char** argv) {
  init_runtime(argc, argv);
  try {
    std::vector<std::string> overrides = {"run_dir=/tmp/pdiff_bench_collect"};
    overrides.insert(overrides.end(), argv + 1, argv + argc);
    Config cfg = Config::load("", overrides);
    open_run_context(cfg);
    const std::string dir = cfg.s("run_dir");
    std::system(("rm -rf '" + dir + "'").c_str());
    std::printf("threads: %d\n", torch::get_num_threads());

    Stopwatch total;
    collect(run_context(cfg), collect_options(cfg));
    const double collect_s = total.seconds();
    auto info = nlohmann::json::parse(read_text_file(dir + "/base.json"));
    DataSplits data = load_dataset(data_options(cfg));
    const double images = double(cfg.i("base.epochs")) * (data.train.size() / cfg.i("base.batch")) * cfg.i("base.batch");
    std::printf("base training: %.0f images/s (%.1f s for %lld epochs, test accuracy %.2f %%)\n",
                images / info["train_seconds"].get<double>(), info["train_seconds"].get<double>(),
                (long long)cfg.i("base.epochs"), info["test_accuracy"].get<double>());
    std::printf("whole collection (K = %lld, base training included): %.1f s (target <= 180 s)\n",
                (long long)cfg.i("zoo.k"), collect_s);

    Zoo zoo = load_zoo(dir + "/zoo.pt");
    ClassifierSpec spec = classifier_spec(model_options(cfg), data);
    const int64_t m = std::min<int64_t>(8, zoo.params.size(0));
    auto params = zoo.params.slice(0, 0, m);
    Stopwatch w_tail;
    TailEvaluator tail(load_base(dir + "/base.pt", spec), zoo.layout, data.test);
    double setup = w_tail.seconds();
    Stopwatch w_tail_eval;
    auto r_tail = tail.evaluate(params);
    double t_tail = w_tail_eval.seconds() / m;
    TailEvaluator full(load_base(dir + "/base.pt", spec), zoo.layout, data.test, /*full_forward=*/true);
    Stopwatch w_full;
    auto r_full = full.evaluate(params);
    double t_full = w_full.seconds() / m;
    bool same = torch::equal(r_tail.predictions, r_full.predictions);
    std::printf("evaluation on %lld test images: tail-only %.3f s/model (+%.2f s one-off cache), full forward "
                "%.3f s/model: speed-up %.1fx (target >= 5x); predictions identical: %s\n",
                (long long)data.test.size(), t_tail, setup, t_full, t_full / t_tail, same ? "yes" : "NO");
    return same ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_collect: %s\n", e.what());
    return 1;
  }
}
