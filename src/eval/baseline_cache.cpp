#include "eval/baseline_cache.h"

#include <cstdio>

#include "io/file_io.h"

namespace pdiff {

namespace {

// The zoo's config fingerprint and an FNV-1a hash of its predictions.
std::string zoo_identity(const Zoo& zoo) {
  const torch::Tensor p = zoo.predictions.contiguous();
  const auto* bytes = static_cast<const unsigned char*>(p.data_ptr());
  uint64_t h = 1469598103934665603ull;
  for (int64_t i = 0, n = p.numel() * int64_t(p.element_size()); i < n; ++i) h = (h ^ bytes[i]) * 1099511628211ull;
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return zoo.fingerprint + "/" + buf;
}

}  // namespace

std::optional<EvalResult> load_baseline_results(const std::string& path, const Zoo& zoo, const torch::Tensor& params) {
  if (!file_exists(path)) return std::nullopt;
  try {
    DictFile f = DictFile::load(path, "pdiff.baselines", kBaselinesFormatVersion, "it is remade by the next eval");
    if (f.str("zoo") != zoo_identity(zoo)) return std::nullopt;
    torch::Tensor stored = f.tensor("params");
    if (stored.sizes() != params.sizes() || stored.dtype() != params.dtype() || !torch::equal(stored, params))
      return std::nullopt;
    EvalResult r{f.tensor("predictions"), f.tensor("accuracy")};
    if (r.predictions.dim() != 2 || r.predictions.size(0) != params.size(0) ||
        r.predictions.size(1) != zoo.predictions.size(1) || r.accuracy.dim() != 1 ||
        r.accuracy.size(0) != params.size(0))
      return std::nullopt;
    std::fprintf(stderr, "baselines: reusing the results of %lld models from %s\n", (long long)params.size(0),
                 path.c_str());
    return r;
  } catch (const std::exception& e) {  // corrupt or old: evaluate anew rather than fail
    std::fprintf(stderr, "baselines: not reusing %s: %s\n", path.c_str(), e.what());
    return std::nullopt;
  }
}

void save_baseline_results(const std::string& path, const Zoo& zoo, const torch::Tensor& params,
                           const EvalResult& result) {
  DictFile f;
  f.set("zoo", zoo_identity(zoo));
  f.set_tensor("params", params);
  f.set_tensor("accuracy", result.accuracy);
  f.set_tensor("predictions", result.predictions);
  f.save(path, "pdiff.baselines", kBaselinesFormatVersion);
}

}  // namespace pdiff
