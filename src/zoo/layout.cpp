#include "zoo/layout.h"

#include <map>
#include <sstream>

#include "core/error.h"

namespace pdiff {

namespace {

bool glob_match(const char* pat, const char* s) {
  if (*pat == '\0') return *s == '\0';
  if (*pat == '*') return glob_match(pat + 1, s) || (*s && glob_match(pat, s + 1));
  return *s && (*pat == '?' || *pat == *s) && glob_match(pat + 1, s + 1);
}

// Parameters, then floating-point buffers (BatchNorm running statistics; not the integer
// num_batches_tracked): what a layout may hold.
std::vector<std::pair<std::string, torch::Tensor>> layout_candidates(const Classifier& model) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : model->named_parameters()) out.emplace_back(p.key(), p.value());
  for (const auto& b : model->named_buffers())
    if (b.value().is_floating_point()) out.emplace_back(b.key(), b.value());
  return out;
}

std::map<std::string, torch::Tensor> tensors_by_name(const Classifier& model) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [name, t] : layout_candidates(model)) out[name] = t;
  return out;
}

}  // namespace

bool is_running_variance(const std::string& name) {
  const std::string tail = "running_var";
  return name.size() >= tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
}

std::vector<torch::Tensor> ParamLayout::trainable(const Classifier& model) const {
  std::vector<torch::Tensor> out;
  const auto params = model->named_parameters();
  auto ts = tensors(model);
  for (size_t i = 0; i < ts.size(); ++i)
    if (params.contains(entries_[i].name)) out.push_back(ts[i]);
  return out;
}

ParamLayout ParamLayout::of(const Classifier& model, const std::vector<std::string>& names) {
  ParamLayout layout;
  for (const auto& [name, t] : layout_candidates(model)) {
    bool wanted = false;
    for (const auto& n : names) wanted |= (n == name);
    if (!wanted) continue;
    ParamEntry e{name, t.sizes().vec(), layout.dim_, t.numel()};
    layout.dim_ += e.numel;
    layout.entries_.push_back(e);
  }
  check(layout.entries_.size() == names.size(), "internal: a selected parameter is not in the model");
  return layout;
}

ParamLayout ParamLayout::load(const DictFile& f) {
  auto names = f.strings("names");
  auto shapes = f.shapes("shapes");
  auto offsets = f.ints("offsets");
  check(names.size() == shapes.size() && names.size() == offsets.size(),
        f.path() + ": layout lists names, shapes and offsets of different lengths");
  ParamLayout layout;
  for (size_t i = 0; i < names.size(); ++i) {
    int64_t numel = 1;
    for (auto d : shapes[i]) {
      check(d >= 0 && (d == 0 || numel <= (int64_t(1) << 40) / d),
            f.path() + ": layout shape of '" + names[i] + "' is not a valid shape");
      numel *= d;
    }
    check(layout.dim_ <= (int64_t(1) << 40), f.path() + ": layout larger than any model");
    check(offsets[i] == layout.dim_, f.path() + ": layout offset of '" + names[i] + "' is " +
                                         std::to_string(offsets[i]) + ", expected " + std::to_string(layout.dim_));
    layout.entries_.push_back({names[i], shapes[i], offsets[i], numel});
    layout.dim_ += numel;
  }
  return layout;
}

void ParamLayout::save(DictFile& f) const {
  std::vector<std::vector<int64_t>> shapes;
  std::vector<int64_t> offsets;
  for (const auto& e : entries_) shapes.push_back(e.shape), offsets.push_back(e.offset);
  f.set_strings("names", names());
  f.set_shapes("shapes", shapes);
  f.set_ints("offsets", offsets);
}

std::vector<std::string> ParamLayout::names() const {
  std::vector<std::string> out;
  for (const auto& e : entries_) out.push_back(e.name);
  return out;
}

std::vector<torch::Tensor> ParamLayout::tensors(const Classifier& model) const {
  auto by_name = tensors_by_name(model);
  std::vector<torch::Tensor> out;
  for (const auto& e : entries_) {
    auto it = by_name.find(e.name);
    check(it != by_name.end(), "parameter '" + e.name + "' of the layout is not in this model");
    check(it->second.sizes().vec() == e.shape, "parameter '" + e.name + "' has shape " +
                                                   c10::str(it->second.sizes()) + " in the model but " +
                                                   c10::str(c10::IntArrayRef(e.shape)) + " in the layout");
    out.push_back(it->second);
  }
  return out;
}

torch::Tensor ParamLayout::flatten(const Classifier& model) const {
  std::vector<torch::Tensor> flat;
  for (const auto& t : tensors(model)) flat.push_back(t.detach().reshape({-1}).cpu());
  return torch::cat(flat);
}

void ParamLayout::assign(const Classifier& model, const torch::Tensor& vec) const {
  check(vec.dim() == 1 && vec.size(0) == dim_, "parameter vector of length " + std::to_string(vec.numel()) +
                                                   " does not match the layout's D = " + std::to_string(dim_));
  torch::NoGradGuard ng;
  auto ts = tensors(model);
  for (size_t i = 0; i < ts.size(); ++i) {
    const auto& e = entries_[i];
    ts[i].copy_(vec.slice(0, e.offset, e.offset + e.numel).view(e.shape));
    // A generated running variance can come out slightly negative; a variance cannot.
    if (is_running_variance(e.name)) ts[i].clamp_min_(0.0);
  }
}

std::string ParamLayout::difference(const ParamLayout& other) const {
  if (entries_.size() != other.entries_.size())
    return std::to_string(entries_.size()) + " tensors vs " + std::to_string(other.entries_.size());
  for (size_t i = 0; i < entries_.size(); ++i) {
    const auto &a = entries_[i], &b = other.entries_[i];
    if (a.name != b.name) return "tensor " + std::to_string(i) + " is '" + a.name + "' vs '" + b.name + "'";
    if (a.shape != b.shape) return "tensor '" + a.name + "' has different shapes";
  }
  return "";
}

std::vector<std::string> select_parameters(const Classifier& model, const std::string& selection) {
  std::vector<std::string> all;
  for (const auto& p : model->named_parameters()) all.push_back(p.key());
  std::vector<std::string> patterns;
  if (selection == "all") return all;
  if (selection == "whole") {
    for (const auto& b : model->named_buffers())
      if (b.value().is_floating_point()) all.push_back(b.key());
    return all;
  }
  if (selection == "auto") return select_parameters(model, model->default_selection());
  if (selection.rfind("last_norm:", 0) == 0) {
    int64_t n = 0;
    try {
      n = std::stoll(selection.substr(10));
    } catch (...) {
    }
    check(n >= 1, "zoo.select = '" + selection + "': write last_norm:N with N >= 1");
    auto norms = model->norm_layers();
    check(static_cast<int64_t>(norms.size()) >= n,
          "zoo.select = '" + selection + "': the model has only " + std::to_string(norms.size()) +
              " normalization layers; use last_norm:" + std::to_string(norms.size()) +
              " or less, or name the tensors (zoo.select='fc2.*')");
    for (auto it = norms.end() - n; it != norms.end(); ++it) patterns.push_back(*it + ".*");
  } else {
    std::stringstream ss(selection);
    std::string item;
    while (std::getline(ss, item, ',')) {
      item.erase(0, item.find_first_not_of(' '));
      item.erase(item.find_last_not_of(' ') + 1);
      if (item.empty()) continue;
      patterns.push_back(item);
      if (item.find('*') == std::string::npos) patterns.push_back(item + ".*");
    }
  }
  std::vector<std::string> out;
  for (const auto& name : all)
    for (const auto& pat : patterns)
      if (glob_match(pat.c_str(), name.c_str())) {
        out.push_back(name);
        break;
      }
  check(!out.empty(), "zoo.select = '" + selection + "' matches no parameter of this model; names look like '" +
                          all.front() + "', '" + all.back() + "'");
  return out;
}

}  // namespace pdiff
