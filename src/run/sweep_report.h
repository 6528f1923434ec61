// The outputs of `pdiff sweep`: one row per point read from its report.json, the originals and
// baselines once per zoo, sweep.md and sweep.png (schema in docs/formats.md, sweep.json).
// Every figure is copied from the points' report.json files, never recomputed.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pdiff {

// The row of the finished point number `point` (1-based, in grid order) in `run_dir`. `values`: the swept keys; `shares`: for each
// shared stage (collect, autoencoder, train: the diffusion model, generate), the 1-based number of
// the first point of the sweep with the same fingerprint of that stage's keys (whose outputs this
// point uses).
nlohmann::json sweep_row(int point, const std::string& name, const std::string& run_dir, const std::vector<std::string>& keys,
                         const nlohmann::json& shares);

// The originals and baseline groups of the finished point in `run_dir` (the same for every point
// on one zoo): {"original": B, "ensemble": B, "noise_std_0.001": B, ...}.
nlohmann::json sweep_baselines(const std::string& run_dir);

// sweep.md: the points, then the originals and baselines of each zoo, then what was shared.
// `sweep` is sweep.json's object (keys, points, zoos, failed, pending, command).
std::string sweep_markdown(const nlohmann::json& sweep);

// sweep.png: mean accuracy against mean max-IoU of every point (labelled by its values) and of
// the originals and baselines of every zoo. Nothing when no point has finished.
void plot_sweep(const std::string& path, const nlohmann::json& sweep);

}  // namespace pdiff
