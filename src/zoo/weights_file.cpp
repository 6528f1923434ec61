#include "zoo/weights_file.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "core/error.h"
#include "io/file_io.h"

namespace pdiff {

namespace {

// Up to `n` names, then how many more.
std::string name_list(const std::vector<std::string>& names, size_t n = 5) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < n; ++i) out += (i ? ", " : "") + ("'" + names[i] + "'");
  if (names.size() > n) out += " and " + std::to_string(names.size() - n) + " more";
  return out;
}

bool all_tensors(const c10::impl::GenericDict& d) {
  for (const auto& kv : d)
    if (!kv.value().isTensor()) return false;
  return d.size() > 0;
}

// The state dict inside the file: the top level when every value is a tensor, else its
// "state_dict" or "model" entry.
std::map<std::string, torch::Tensor> unwrap(const DictFile& f, const std::string& where) {
  c10::impl::GenericDict d = f.dict();
  if (!all_tensors(d)) {
    bool found = false;
    for (const char* entry : {"state_dict", "model"})
      if (f.has(entry) && d.at(entry).isGenericDict()) {
        d = d.at(entry).toGenericDict();
        found = true;
        break;
      }
    check(found, where + ": neither a state dict (every value a tensor) nor a checkpoint with a 'state_dict' or "
                         "'model' entry; save it with torch.save(model.state_dict(), PATH)");
  }
  std::map<std::string, torch::Tensor> out;
  for (const auto& kv : d) {
    check(kv.key().isString(), where + ": a key of the state dict is not a string");
    const std::string& name = kv.key().toStringRef();
    check(kv.value().isTensor(), where + ": entry '" + name + "' of the state dict is not a tensor");
    out.emplace(name, kv.value().toTensor());
  }
  return out;
}

// The prefix to strip: "" when the names match as they are, else the prefix p for which the
// most file keys read p + an expected name (Lightning's "model.", DataParallel's "module.").
std::string common_prefix(const std::map<std::string, torch::Tensor>& file, const std::set<std::string>& expected) {
  size_t direct = 0;
  for (const auto& [name, t] : file) direct += expected.count(name);
  std::map<std::string, size_t> votes;
  for (const auto& [name, t] : file)
    for (size_t dot = name.find('.'); dot != std::string::npos; dot = name.find('.', dot + 1))
      if (expected.count(name.substr(dot + 1))) ++votes[name.substr(0, dot + 1)];
  std::string best;
  size_t best_votes = direct;
  for (const auto& [prefix, n] : votes)
    if (n > best_votes) best = prefix, best_votes = n;
  return best;
}

}  // namespace

NamedTensors read_weights_file(const std::string& path, const NamedTensors& expected, const std::string& key) {
  const std::string where = key + " = " + path;
  DictFile f;
  try {
    f = DictFile::load_any(path);
  } catch (const Error& e) {
    // LibTorch 1.13's unpickler turns Python's OrderedDict (what state_dict() returns) into None.
    if (std::string(e.what()).find("Expected GenericDict but got None") != std::string::npos)
      throw Error(where + ": holds a Python OrderedDict (what model.state_dict() returns), which this pdiff's "
                          "reader (LibTorch 1.13) cannot read; save it with torch.save(dict(model.state_dict()), PATH)");
    throw Error(std::string(e.what()) + " (" + key + ")");
  }
  std::map<std::string, torch::Tensor> file = unwrap(f, where);
  std::set<std::string> names;
  for (const auto& [name, t] : expected) names.insert(name);
  const std::string prefix = common_prefix(file, names);

  std::map<std::string, torch::Tensor> by_name;
  std::vector<std::string> extra, missing;
  for (const auto& [name, t] : file) {
    const bool has_prefix = name.compare(0, prefix.size(), prefix) == 0;
    if (has_prefix && names.count(name.substr(prefix.size()))) by_name.emplace(name.substr(prefix.size()), t);
    else extra.push_back(name);
  }
  for (const auto& [name, t] : expected)
    if (!by_name.count(name)) missing.push_back(prefix + name);
  const std::string stripped = prefix.empty() ? "" : " (after stripping the prefix '" + prefix + "')";
  std::vector<std::string> held;
  for (const auto& [name, t] : file) held.push_back(name);
  check(missing.empty(), where + ": missing tensor " + name_list(missing) + stripped + " (the file holds " +
                             name_list(held, 3) + "); the file is for another architecture or other model.* settings");
  check(extra.empty(), where + ": tensor " + name_list(extra) + " is not part of this model" + stripped +
                           "; the file is for another architecture or other model.* settings");

  NamedTensors out;
  std::vector<std::string> converted;
  for (const auto& [name, want] : expected) {
    const torch::Tensor& t = by_name.at(name);
    check(t.sizes() == want.sizes(), where + ": tensor '" + prefix + name + "' has shape " + c10::str(t.sizes()) +
                                         ", the model expects " + c10::str(want.sizes()));
    check(!t.is_floating_point() || t.isfinite().all().item<bool>(),
          where + ": tensor '" + prefix + name + "' holds a non-finite value (NaN or infinity)");
    if (t.is_floating_point() && t.scalar_type() != want.scalar_type())
      converted.push_back(prefix + name + " (" + std::string(c10::toString(t.scalar_type())) + ")");
    out.emplace_back(name, t);
  }
  // Said, not refused: a float64 tensor (e.g. a checkpoint saved after .double()) loses precision.
  if (!converted.empty())
    std::fprintf(stderr, "%s: note: %s converted to float32, the model's type\n", where.c_str(),
                 name_list(converted).c_str());
  return out;
}

}  // namespace pdiff
