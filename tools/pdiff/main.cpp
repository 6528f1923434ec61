// pdiff command-line front end: parses arguments, calls the library, prints errors.
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "core/config.h"
#include "core/error.h"
#include "core/runtime.h"
#include "core/version.h"
#include "eval/report.h"
#include "dist/group.h"
#include "run/job.h"
#include "run/run.h"
#include "run/stage_options.h"
#include "run/sweep.h"
#include "run/table.h"

namespace {

struct ConfigArgs {
  std::string config_path;
  std::string run_dir;
  std::vector<std::string> overrides;
};

void add_config_args(CLI::App* cmd, ConfigArgs* args) {
  cmd->add_option("--config,-c", args->config_path,
                  "experiment YAML (default: RUN_DIR/config.yaml when it exists, else built-in fmnist-convnet4)");
  cmd->add_option("--run,-r", args->run_dir, "the run directory (as run_dir=DIR)");
  cmd->add_option("overrides", args->overrides, "section.key=value overrides");
}

// --quiet: stderr (progress, notes) goes to /dev/null; errors still reach the terminal.
FILE* silence_stderr() {
  FILE* errors = fdopen(dup(2), "w");
  if (FILE* null = std::fopen("/dev/null", "w")) dup2(fileno(null), 2), std::fclose(null);
  return errors != nullptr ? errors : stderr;
}

// Where errors go: stderr, or the terminal's copy of it once stderr is silenced.
FILE* errors = stderr;

// Ranks other than 0 of a job: their progress and notes would repeat rank 0's.
void quiet_rank() {
  if (errors == stderr) errors = silence_stderr();
}

// The config of a command: --config FILE, else the run directory's config.yaml (what its last
// stage used) when there is one, else the built-in defaults; then the overrides.
pdiff::Config resolve(ConfigArgs args) {
  std::string dir = args.run_dir;
  for (const auto& o : args.overrides)
    if (o.rfind("run_dir=", 0) == 0) {
      pdiff::check(args.run_dir.empty() || args.run_dir == o.substr(8),
                   "--run " + args.run_dir + " and " + o + " name two run directories; give one");
      dir = o.substr(8);
    }
  if (!args.run_dir.empty()) args.overrides.push_back("run_dir=" + args.run_dir);
  std::string source = args.config_path.empty() ? "the built-in defaults (fmnist-convnet4)" : args.config_path;
  if (args.config_path.empty() && !dir.empty() && std::filesystem::exists(dir + "/config.yaml")) {
    args.config_path = dir + "/config.yaml";
    source = args.config_path + " (the config its last stage used)";
  }
  pdiff::Config cfg = pdiff::Config::load(args.config_path, args.overrides);
  pdiff::join_job(cfg);  // under torchrun or srun: every rank, the same settings
  if (pdiff::dist_rank() != 0) quiet_rank();  // one rank reports; the others only their errors
  std::string overrides;
  for (const auto& o : args.overrides) overrides += " " + o;
  std::fprintf(stderr, "pdiff: config from %s%s%s; every key: `pdiff keys`, and %s/config.yaml once a stage ran\n",
               source.c_str(), overrides.empty() ? "" : ", with", overrides.c_str(), cfg.s("run_dir").c_str());
  pdiff::open_run_context(cfg);
  return cfg;
}

void print_keys() {
  for (const auto& k : pdiff::config_keys()) {
    std::printf("%-22s %-20s %s", k.key.c_str(), ("[" + k.default_value + "]").c_str(), k.help.c_str());
    if (!k.choices.empty()) {
      std::printf(" (");
      for (size_t i = 0; i < k.choices.size(); ++i) std::printf("%s%s", i ? "|" : "", k.choices[i].c_str());
      std::printf(")");
    }
    std::printf("\n");
  }
}

// `pdiff table` words: a word with '=' is an override for every config, any other a config file.
pdiff::TableArgs table_args(const std::vector<std::string>& words, const std::string& out, int argc, char** argv) {
  pdiff::TableArgs t;
  for (const auto& w : words) (w.find('=') == std::string::npos ? t.configs : t.overrides).push_back(w);
  t.out_dir = out;
  t.command = "pdiff " + pdiff::shell_command(std::vector<std::string>(argv + 1, argv + argc));
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  pdiff::init_runtime(argc, argv);
  CLI::App app{"pdiff: neural network diffusion (p-diff) in C++"};
  app.require_subcommand(0, 1);
  // LibTorch, CUDA and the devices this build sees (core/version.h).
  app.set_version_flag("--version,-V", [] { return pdiff::version_report(); });
  bool quiet = false;
  app.add_flag("--quiet,-q", quiet, "results (stdout) and errors only: no progress or notes on stderr");
  app.fallthrough();  // --quiet after the command too
  ConfigArgs collect_args;
  auto* collect = app.add_subcommand("collect", "train the base model and collect the zoo of checkpoints");
  add_config_args(collect, &collect_args);
  ConfigArgs train_args, generate_args, export_args, eval_args, run_args, import_args;
  std::string import_from;
  auto* importer = app.add_subcommand("import", "build zoo.pt from checkpoints saved in Python (zoo.import)");
  add_config_args(importer, &import_args);
  importer->add_option("--from,-f", import_from, "folder or glob of checkpoints (sets zoo.import)");
  auto* run = app.add_subcommand("run", "the whole method: collect, train, generate, eval (skips what is current)");
  add_config_args(run, &run_args);
  auto* train = app.add_subcommand("train", "train the parameter autoencoder and the latent diffusion model");
  add_config_args(train, &train_args);
  auto* generate = app.add_subcommand("generate", "sample new models, evaluate them, write generated.pt");
  add_config_args(generate, &generate_args);
  auto* exporter = app.add_subcommand("export", "write one generated model as a full PyTorch state dict");
  add_config_args(exporter, &export_args);
  pdiff::ExportChoice export_choice;
  std::string export_out;
  exporter->add_option("--index,-i", export_choice.indices, "which generated model (0-based; default 0; repeat for several)")
      ->allow_extra_args(false);
  exporter->add_flag("--best", export_choice.best, "the most accurate generated model");
  exporter->add_flag("--all", export_choice.all, "every generated model");
  exporter->add_option("--out,-o", export_out,
                       "output file for one model (default: RUN_DIR/generated_I.pt), folder for several (default: RUN_DIR)");
  auto* eval = app.add_subcommand("eval", "evaluate originals, generated models and baselines; write the report");
  add_config_args(eval, &eval_args);
  std::vector<std::string> table_words;
  std::string table_out = "runs/table";
  auto* table = app.add_subcommand("table", "run several configs as `pdiff run` does; write one table of them");
  table->add_option("configs", table_words, "CONFIG files, then section.key=value overrides for every config")
      ->required();
  table->add_option("--out,-o", table_out, "directory for table.md and table.json (default: runs/table)");
  pdiff::SweepArgs sweep_args;
  auto* sweep = app.add_subcommand(
      "sweep", "`pdiff run` over a grid of settings, sharing the stages whose keys do not change; one table and plot");
  sweep->add_option("--config,-c", sweep_args.config_path, "experiment YAML (default: built-in fmnist-convnet4)");
  sweep->add_option("--out,-o", sweep_args.out_dir, "sweep directory: one run directory per point, sweep.md, "
                                                    "sweep.json, sweep.png (default: runs/sweep)");
  sweep->add_option("--name,-n", sweep_args.name, "file name of the table, JSON and plot: several sweeps in one "
                                                  "--out folder share its zoos (default: sweep)");
  sweep->add_option("grid", sweep_args.words,
                    "KEY=V1,V2,... to sweep KEY (';' between values of list and text keys, quoted: "
                    "'ae.channels=8,16;16,32'); KEY=V for a fixed value")
      ->required();
  auto* keys = app.add_subcommand("keys", "list every config key with its default and meaning");
  CLI11_PARSE(app, argc, argv);
  if (app.get_subcommands().empty()) {  // `pdiff` alone: what it can do
    std::printf("%s", app.help().c_str());
    return 0;
  }

  if (quiet) errors = silence_stderr();
  try {
    if (*keys) print_keys();
    if (*run) pdiff::run_all(resolve(run_args));
    if (*collect) {
      pdiff::Config cfg = resolve(collect_args);
      pdiff::collect(pdiff::run_context(cfg), pdiff::collect_options(cfg));  // every rank: seeds runs, evaluation
    }
    if (*importer) {
      if (!import_from.empty()) import_args.overrides.push_back("zoo.import=" + import_from);
      pdiff::Config cfg = resolve(import_args);
      pdiff::check(!cfg.s("zoo.import").empty(), "pdiff import: give the checkpoints with --from FOLDER_OR_GLOB");
      pdiff::collect(pdiff::run_context(cfg), pdiff::collect_options(cfg));  // every rank: the evaluation
      std::fprintf(stderr, "next: `pdiff run` with the same settings and zoo.import=%s (it skips the collection)\n",
                   cfg.s("zoo.import").c_str());
    }
    if (*train) {
      pdiff::Config cfg = resolve(train_args);
      pdiff::train(pdiff::run_context(cfg), pdiff::train_options(cfg));  // every rank: data-parallel
    }
    if (*generate) {
      pdiff::Config cfg = resolve(generate_args);
      pdiff::generate(pdiff::run_context(cfg), pdiff::generate_options(cfg));
    }
    if (*exporter) {
      pdiff::check(int(!export_choice.indices.empty()) + int(export_choice.best) + int(export_choice.all) <= 1,
                   "pdiff export: give one of --index, --best and --all");
      pdiff::Config cfg = resolve(export_args);
      pdiff::on_main_rank("export", [&] {
        for (const auto& path : pdiff::export_models(pdiff::run_context(cfg), pdiff::export_options(cfg), export_choice, export_out))
          std::printf("%s\n", path.c_str());
      });
    }
    if (*table) {
      pdiff::TableArgs t = table_args(table_words, table_out, argc, argv);
      pdiff::join_job(t.command);
      if (pdiff::dist_rank() != 0) quiet_rank();
      const int failed = pdiff::run_table(t);  // each config in turn on every rank (docs/distributed.md)
      if (failed > 0) {
        std::fprintf(stderr, "pdiff: error: %d of %zu configs failed (errors above); %s/table.md holds the others\n",
                     failed, t.configs.size(), t.out_dir.c_str());
        return 1;
      }
    }
    if (*sweep) {
      sweep_args.command = "pdiff " + pdiff::shell_command(std::vector<std::string>(argv + 1, argv + argc));
      pdiff::join_job(sweep_args.command);
      if (pdiff::dist_rank() != 0) quiet_rank();
      const int failed = pdiff::run_sweep(sweep_args);  // each point in turn on every rank (docs/distributed.md)
      if (failed > 0) {
        std::fprintf(stderr, "pdiff: error: %d points of the sweep failed (errors above); %s/%s.md holds the others\n",
                     failed, sweep_args.out_dir.c_str(), sweep_args.name.c_str());
        return 1;
      }
    }
    if (*eval) {
      pdiff::Config cfg = resolve(eval_args);
      pdiff::EvalReport r = pdiff::evaluate(pdiff::run_context(cfg), pdiff::eval_options(cfg));  // every rank
      if (pdiff::is_main_rank())
        std::printf("%s\n%s\n\n%s\n", pdiff::summary_table(r).c_str(), r.verdict.c_str(), r.dominance_verdict.c_str());
    }
    // Rank 0 hosts the group's store: every rank leaves together.
    pdiff::dist_barrier("finishing");
  } catch (const pdiff::Error& e) {
    std::fprintf(errors, "pdiff: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(errors, "pdiff: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
