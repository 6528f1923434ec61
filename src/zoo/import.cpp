#include "zoo/import.h"

#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
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

std::vector<std::string> import_paths(const std::string& source) {
  std::vector<std::string> out;
  if (is_dir(source)) {
    for (const char* ext : {"pt", "pth", "ckpt"})
      for (auto& p : glob_files(source + "/*." + ext)) out.push_back(p);
  } else {
    out = glob_files(source);
  }
  std::sort(out.begin(), out.end());
  check(!out.empty(), "zoo.import = " + source + ": no checkpoint files match (give a folder of .pt/.pth/.ckpt "
                      "files or a glob pattern such as 'ckpts/epoch_*.pt')");
  check(out.size() >= 2, "zoo.import = " + source + ": only one checkpoint (" + out[0] +
                             "); a zoo needs at least two");
  return out;
}

torch::Tensor import_checkpoints(const std::vector<std::string>& paths, const Classifier& model,
                                 const NamedTensors& base, const ParamLayout& layout) {
  const std::vector<std::string> selected = layout.names();
  const std::set<std::string> in_layout(selected.begin(), selected.end());
  const NamedTensors expected = state_dict(model);
  torch::Tensor out = torch::empty({static_cast<int64_t>(paths.size()), layout.dim()});
  Progress progress("zoo import", static_cast<int64_t>(paths.size()), "ckpt");
  for (size_t k = 0; k < paths.size(); ++k) {
    NamedTensors ckpt = read_weights_file(paths[k], expected, "zoo.import");
    std::vector<torch::Tensor> flat;
    for (size_t i = 0; i < ckpt.size(); ++i) {
      const auto& [name, t] = ckpt[i];
      if (in_layout.count(name)) continue;
      if (ends_with(name, "num_batches_tracked")) continue;
      const torch::Tensor& b = base[i].second;
      if (!torch::equal(t.to(b.scalar_type()), b)) {
        const double diff = (t.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
        throw Error("zoo.import = " + paths[k] + ": tensor '" + name + "' differs from the base (largest difference " +
                    c10::str(diff) + "); p-diff trains only the selected subset (" + std::to_string(selected.size()) +
                    " tensors from '" + selected.front() + "'), everything else must be the base's: freeze it while "
                    "training the checkpoints (BatchNorm layers in eval mode), widen zoo.select, or import whole "
                    "networks with zoo.select=whole");
      }
    }
    for (const auto& e : layout.entries())
      for (const auto& [name, t] : ckpt)
        if (name == e.name) flat.push_back(t.to(torch::kFloat32).reshape({-1}));
    out[k].copy_(torch::cat(flat));
    progress.tick(1);
  }
  progress.finish();
  return out;
}

}  // namespace pdiff
