#include "zoo/import.h"

#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>

#include "core/error.h"
#include "core/progress.h"

namespace pdiff {

namespace {

bool is_dir(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> glob_files(const std::string& pattern) {
  glob_t g{};
  std::vector<std::string> out;
  if (::glob(pattern.c_str(), 0, nullptr, &g) == 0)
    for (size_t i = 0; i < g.gl_pathc; ++i)
      if (!is_dir(g.gl_pathv[i])) out.emplace_back(g.gl_pathv[i]);
  globfree(&g);
  return out;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

std::vector<std::string> import_paths(const std::string& source, const std::string& base_file) {
  std::vector<std::string> out;
  if (is_dir(source)) {
    for (const char* ext : {"pt", "pth", "ckpt"})
      for (auto& p : glob_files(source + "/*." + ext)) out.push_back(p);
  } else {
    out = glob_files(source);
  }
  std::sort(out.begin(), out.end());
  if (!base_file.empty()) {
    std::error_code ec;
    const auto base = std::filesystem::weakly_canonical(base_file, ec);
    const size_t before = out.size();
    out.erase(std::remove_if(out.begin(), out.end(),
                             [&](const std::string& p) { return std::filesystem::weakly_canonical(p, ec) == base; }),
              out.end());
    if (out.size() < before)
      std::fprintf(stderr, "zoo.import: %s is base.file, not a checkpoint of the zoo: left out\n", base_file.c_str());
  }
  check(!out.empty(), "zoo.import = " + source + ": no checkpoint files match (give a folder of .pt/.pth/.ckpt "
                      "files or a glob pattern such as 'ckpts/epoch_*.pt')");
  check(out.size() >= 2, "zoo.import = " + source + ": only one checkpoint (" + out[0] +
                             "); a zoo needs at least two");
  std::fprintf(stderr, "zoo.import: %zu checkpoints from %s (%s ... %s)\n", out.size(), source.c_str(),
               out.front().c_str(), out.back().c_str());
  return out;
}

std::vector<std::string> moving_tensors(const std::vector<std::string>& paths, const Classifier& model,
                                        const NamedTensors& base) {
  const NamedTensors expected = state_dict(model);
  std::vector<bool> moves(expected.size(), false);
  for (const auto& path : paths) {
    const NamedTensors ckpt = read_weights_file(path, expected, "zoo.import");
    for (size_t i = 0; i < ckpt.size(); ++i) {
      const torch::Tensor& b = base[i].second;
      if (!moves[i] && b.is_floating_point() && !torch::equal(ckpt[i].second.to(b.scalar_type()), b)) moves[i] = true;
    }
  }
  std::vector<std::string> names;
  for (size_t i = 0; i < expected.size(); ++i)
    if (moves[i]) names.push_back(expected[i].first);
  check(!names.empty(), "zoo.select = moving: the " + std::to_string(paths.size()) +
                            " checkpoints equal the base in every tensor; there is nothing for p-diff to learn");
  std::string list;
  for (size_t i = 0; i < names.size() && i < 12; ++i) list += " " + names[i];
  if (names.size() > 12) list += " ... (" + std::to_string(names.size()) + " in all)";
  std::fprintf(stderr, "zoo.select = moving: the tensors that differ from the base:%s\n", list.c_str());
  return names;
}

bool is_running_statistic(const std::string& name) {
  return ends_with(name, ".running_mean") || ends_with(name, ".running_var");
}

torch::Tensor import_checkpoints(const std::vector<std::string>& paths, const Classifier& model,
                                 const NamedTensors& base, const ParamLayout& layout, const std::string& import_stats,
                                 std::vector<std::string>* drifting) {
  const std::vector<std::string> selected = layout.names();
  const std::set<std::string> in_layout(selected.begin(), selected.end());
  const NamedTensors expected = state_dict(model);
  std::set<std::string> drifted;  // running statistics outside the layout, moved in some checkpoint
  torch::Tensor out = torch::empty({static_cast<int64_t>(paths.size()), layout.dim()});
  Progress progress("zoo import", static_cast<int64_t>(paths.size()), "ckpt");
  for (size_t k = 0; k < paths.size(); ++k) {
    NamedTensors ckpt = read_weights_file(paths[k], expected, "zoo.import");
    std::vector<torch::Tensor> flat;
    std::vector<std::string> differing;
    double first_diff = 0;
    for (size_t i = 0; i < ckpt.size(); ++i) {
      const auto& [name, t] = ckpt[i];
      if (in_layout.count(name)) continue;
      if (ends_with(name, "num_batches_tracked")) continue;
      const torch::Tensor& b = base[i].second;
      if (!torch::equal(t.to(b.scalar_type()), b)) {
        if (is_running_statistic(name)) {
          drifted.insert(name);
          continue;
        }
        if (differing.empty()) first_diff = (t.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
        differing.push_back(name);
      }
    }
    if (!differing.empty()) {
      std::string list;
      for (size_t i = 0; i < differing.size() && i < 8; ++i) list += (i ? ", " : "") + differing[i];
      if (differing.size() > 8) list += ", ... (" + std::to_string(differing.size()) + " in all)";
      throw Error("zoo.import = " + paths[k] + ": outside zoo.select, these differ from the base: " + list + " (" +
                  std::to_string(differing.size()) + " tensors; largest difference " + c10::str(first_diff) + " in '" +
                  differing.front() + "'); p-diff trains only the selected subset (" +
                  std::to_string(selected.size()) + " tensors from '" + selected.front() +
                  "'), everything else must be the base's: select the tensors that move (zoo.select=moving, or "
                  "zoo.select='" + differing.front().substr(0, differing.front().rfind('.')) + ",...'), freeze them while training "
                  "the checkpoints (BatchNorm layers in eval mode), or import whole networks with zoo.select=whole");
    }
    for (const auto& e : layout.entries())
      for (const auto& [name, t] : ckpt)
        if (name == e.name) flat.push_back(t.to(torch::kFloat32).reshape({-1}));
    out[k].copy_(torch::cat(flat));
    progress.tick(1);
  }
  progress.finish();
  if (!drifted.empty()) {
    std::string list;
    for (const auto& [name, t] : expected)
      if (drifted.count(name)) {
        list += " " + name;
        if (drifting) drifting->push_back(name);
      }
    std::fprintf(stderr, "zoo.import: running statistics outside zoo.select drift from the base's (BatchNorm in "
                         "training mode while the checkpoints trained):%s; zoo.import_stats = %s: %s\n",
                 list.c_str(), import_stats.c_str(),
                 import_stats == "base" ? "the base's are used, and each checkpoint is measured with them"
                                        : "each checkpoint's own are carried with it (added to the zoo's rows)");
    if (import_stats != "base") return out;  // imported again with them in the layout
  }
  // Which selected tensors the checkpoints actually change: a selection wider than what moves
  // costs the generator dimensions that carry nothing.
  std::string moving, constant;
  for (const auto& e : layout.entries()) {
    auto cols = out.slice(1, e.offset, e.offset + e.numel);
    (torch::equal(cols, cols[0].expand_as(cols)) ? constant : moving) += " " + e.name;
  }
  std::fprintf(stderr, "zoo.import: moving across the %zu checkpoints:%s\n", paths.size(),
               moving.empty() ? " none" : moving.c_str());
  if (!constant.empty())
    std::fprintf(stderr, "zoo.import: selected but the same in every checkpoint:%s (narrow zoo.select to leave them out)\n",
                 constant.c_str());
  return out;
}

}  // namespace pdiff
