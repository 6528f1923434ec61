// pdiff command-line front end: parses arguments, calls the library, prints errors.
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <cstdio>
#include <iostream>

#include "core/config.h"
#include "core/error.h"
#include "zoo/collect.h"

namespace {

struct ConfigArgs {
  std::string config_path;
  std::vector<std::string> overrides;
};

void add_config_args(CLI::App* cmd, ConfigArgs* args) {
  cmd->add_option("--config,-c", args->config_path, "experiment YAML (default: built-in fmnist-convnet4)");
  cmd->add_option("overrides", args->overrides, "section.key=value overrides");
}

pdiff::Config resolve(const ConfigArgs& args) {
  pdiff::Config cfg = pdiff::Config::load(args.config_path, args.overrides);
  if (cfg.i("threads") > 0) torch::set_num_threads(static_cast<int>(cfg.i("threads")));
  std::fprintf(stderr, "--- resolved config ---\n%s-----------------------\n", cfg.to_yaml().c_str());
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pdiff: neural network diffusion (p-diff) in C++"};
  app.require_subcommand(1);
  ConfigArgs collect_args;
  auto* collect = app.add_subcommand("collect", "train the base model and collect the zoo of checkpoints");
  add_config_args(collect, &collect_args);
  auto* keys = app.add_subcommand("keys", "list every config key with its default and meaning");
  CLI11_PARSE(app, argc, argv);

  try {
    if (*keys) print_keys();
    if (*collect) pdiff::collect(resolve(collect_args));
  } catch (const pdiff::Error& e) {
    std::fprintf(stderr, "pdiff: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pdiff: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
