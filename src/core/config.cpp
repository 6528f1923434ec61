#include "core/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace pdiff {

namespace {

// Values the `paper` recipe gives to keys the user did not set (SPEC sections 1.3-1.5):
// the official model sizes, steps and learning rates, and ancestral DDPM sampling over all T steps.
const std::map<std::string, std::string>& paper_recipe() {
  static const std::map<std::string, std::string> preset = {
      {"ae.channels", "64,128,256,256,32"}, {"ae.kernel", "7"}, {"ae.latent", "128"},
      {"ae.lr", "2e-5"}, {"ae.weight_decay", "0"}, {"ae.steps", "500"}, {"ae.batch", "50"},
      {"ldm.channels", "64,128,256,512"}, {"ldm.kernel", "7"}, {"ldm.lr", "1e-4"},
      {"ldm.steps", "1000"}, {"ldm.batch", "50"}, {"ldm.subspace", "0"}, {"ldm.position", "0"},
      {"generate.sampler", "ddpm"}};
  return preset;
}

// Well-formed UTF-8 (RFC 3629): no overlong forms, surrogates or code points past U+10FFFF.
bool valid_utf8(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    unsigned c = p[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > n) return false;
    unsigned cp = len == 1 ? c : c & (0x7F >> len);
    for (size_t j = 1; j < len; ++j) {
      if ((p[i + j] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + j] & 0x3F);
    }
    static const unsigned kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

bool parse_int(const std::string& text, int64_t* out) {
  std::string t = trim(text);
  if (t.empty()) return false;
  char* end = nullptr;
  long long v = std::strtoll(t.c_str(), &end, 10);
  if (*end != '\0') return false;
  *out = v;
  return true;
}

bool parse_float(const std::string& text, double* out) {
  std::string t = trim(text);
  if (t.empty()) return false;
  char* end = nullptr;
  double v = std::strtod(t.c_str(), &end);
  if (*end != '\0' || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

// The shortest text that reads back as the same double.
std::string canonical_float(double v) {
  char buf[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

bool parse_bool(const std::string& text, bool* out) {
  std::string t = trim(text);
  if (t == "true" || t == "1" || t == "yes" || t == "on") return *out = true, true;
  if (t == "false" || t == "0" || t == "no" || t == "off") return *out = false, true;
  return false;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep)) out.push_back(trim(item));
  return out;
}

std::string type_name(KeyType t) {
  switch (t) {
    case KeyType::Int: return "an integer";
    case KeyType::Float: return "a number";
    case KeyType::Bool: return "true or false";
    case KeyType::String: return "a string";
    case KeyType::IntList: return "a comma-separated list of integers";
  }
  return "?";
}

std::string range_text(const KeyDef& d) {
  std::ostringstream os;
  if (d.min > -1e299) os << " >= " << d.min;
  if (d.max < 1e299) os << (d.min > -1e299 ? " and" : "") << " <= " << d.max;
  return os.str();
}

// Turns nested YAML maps into dotted keys; sequences become comma-separated text.
void flatten_yaml(const YAML::Node& node, const std::string& prefix, const std::string& origin,
                  std::vector<std::pair<std::string, std::string>>* out) {
  for (const auto& kv : node) {
    check(kv.first.IsScalar(), origin + ": line " + std::to_string(kv.first.Mark().line + 1) +
                                   (prefix.empty() ? "" : " (in '" + prefix + "')") +
                                   ": a key must be a plain name, not a list or a map");
    std::string key = prefix.empty() ? kv.first.as<std::string>() : prefix + "." + kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    if (v.IsMap()) {
      flatten_yaml(v, key, origin, out);
    } else if (v.IsSequence()) {
      std::string joined;
      for (size_t i = 0; i < v.size(); ++i) {
        check(v[i].IsScalar(), origin + ": key '" + key + "': list elements must be numbers");
        joined += (i ? "," : "") + v[i].as<std::string>();
      }
      out->emplace_back(key, joined);
    } else if (v.IsNull()) {
      out->emplace_back(key, "");
    } else {
      out->emplace_back(key, v.as<std::string>());
    }
  }
}

}  // namespace

Config::Config() {
  for (const auto& k : config_keys()) {
    values_[k.key] = k.default_value;
    if (k.type == KeyType::Float) values_[k.key] = canonical_float(std::strtod(k.default_value.c_str(), nullptr));
  }
}

void Config::set(const std::string& key, const std::string& raw, const std::string& origin) {
  const KeyDef* d = find_key(key);
  if (!d) {
    std::string hint;
    auto dot = key.find('.');
    for (const auto& k : config_keys())
      if (dot != std::string::npos && k.key.compare(0, dot + 1, key, 0, dot + 1) == 0)
        hint += (hint.empty() ? "" : ", ") + k.key;
    throw Error(origin + ": unknown config key '" + key + "'" +
                (hint.empty() ? "; run `pdiff keys` for the list" : "; keys of that section: " + hint));
  }
  std::string value = trim(raw);
  // config.yaml is UTF-8: a value that is not would come back changed when a run is resumed.
  check(valid_utf8(value), origin + ": key '" + key + "': the value is not valid UTF-8 text");
  auto bad = [&](const std::string& why) {
    return Error(origin + ": key '" + key + "' = '" + value + "': " + why);
  };
  auto in_range = [&](double v) { return v >= d->min && v <= d->max; };
  switch (d->type) {
    case KeyType::Int: {
      // An integer key may also accept words (`auto`), listed in its choices.
      if (std::find(d->choices.begin(), d->choices.end(), value) != d->choices.end()) break;
      int64_t v;
      if (!parse_int(value, &v))
        throw bad("expected " + type_name(d->type) + (d->choices.empty() ? "" : " or " + d->choices.front()));
      if (!in_range(static_cast<double>(v))) throw bad("must be" + range_text(*d));
      value = std::to_string(v);
      break;
    }
    case KeyType::Float: {
      double v;
      if (!parse_float(value, &v)) throw bad("expected " + type_name(d->type));
      if (!in_range(v)) throw bad("must be" + range_text(*d));
      value = canonical_float(v);  // 0.01 and 1e-2 are the same value, and the same fingerprint
      break;
    }
    case KeyType::Bool: {
      bool v;
      if (!parse_bool(value, &v)) throw bad("expected " + type_name(d->type));
      value = v ? "true" : "false";
      break;
    }
    case KeyType::IntList: {
      std::string canon;
      auto items = split(value, ',');
      if (items.empty()) throw bad("expected " + type_name(d->type));
      for (const auto& it : items) {
        int64_t v;
        if (!parse_int(it, &v)) throw bad("expected " + type_name(d->type));
        if (!in_range(static_cast<double>(v))) throw bad("every element must be" + range_text(*d));
        canon += (canon.empty() ? "" : ",") + std::to_string(v);
      }
      value = canon;
      break;
    }
    case KeyType::String: {
      if (!d->choices.empty()) {
        bool ok = false;
        std::string list;
        for (const auto& c : d->choices) ok |= (c == value), list += (list.empty() ? "" : ", ") + c;
        if (!ok) throw bad("must be one of: " + list);
      }
      break;
    }
  }
  values_[key] = value;
  explicit_.insert(key);
}

void Config::apply_override(const std::string& assignment) {
  auto eq = assignment.find('=');
  // A bare file name here is most often the second file of a glob the shell expanded.
  // The hint is best effort: a name the system refuses (too long, say) is simply not a file.
  std::error_code ignored;
  const bool is_file = eq == std::string::npos && std::filesystem::is_regular_file(assignment, ignored);
  check(eq != std::string::npos && eq > 0,
        "command line: '" + assignment + "' is not an override; write section.key=value" +
            (is_file ? std::string(". It is a file: was it a glob the shell expanded? Quote it "
                                   "(--from 'ckpts/*.pt', zoo.import='ckpts/*.pt') so that pdiff expands it")
                     : std::string()));
  set(assignment.substr(0, eq), assignment.substr(eq + 1), "command line");
}

void Config::apply_recipe() {
  if (s("recipe") != "paper") return;
  for (const auto& [key, value] : paper_recipe())
    if (!explicit_.count(key)) {
      set(key, value, "recipe paper");  // validated and canonical like any other value
      explicit_.erase(key);
    }
}

Config Config::from_yaml_text(const std::string& text, const std::string& origin) {
  Config cfg;
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error(origin + ": not valid YAML: " + e.what());
  }
  if (root.IsNull()) return cfg;
  check(root.IsMap(), origin + ": the top level must be a map of keys");
  std::vector<std::pair<std::string, std::string>> flat;
  flatten_yaml(root, "", origin, &flat);
  for (const auto& [k, v] : flat) cfg.set(k, v, origin);
  return cfg;
}

Config Config::load(const std::string& yaml_path, const std::vector<std::string>& overrides) {
  Config cfg;
  if (!yaml_path.empty()) {
    std::ifstream in(yaml_path, std::ios::binary);
    check(in.good(), yaml_path + ": cannot open file (does it exist and is it readable?)");
    cfg = from_yaml_text(std::string(std::istreambuf_iterator<char>(in), {}), yaml_path);
  }
  for (const auto& o : overrides) cfg.apply_override(o);
  cfg.apply_recipe();
  return cfg;
}

int64_t Config::i(const std::string& key) const {
  int64_t v = 0;
  check(parse_int(s(key), &v), "config key '" + key + "' is not an integer");
  return v;
}

double Config::f(const std::string& key) const {
  double v = 0;
  check(parse_float(s(key), &v), "config key '" + key + "' is not a number");
  return v;
}

bool Config::b(const std::string& key) const { return s(key) == "true"; }

bool Config::is_word(const std::string& key) const {
  int64_t v = 0;
  return !parse_int(s(key), &v);
}

const std::string& Config::s(const std::string& key) const {
  auto it = values_.find(key);
  check(it != values_.end(), "internal: config key '" + key + "' is not declared");
  return it->second;
}

std::vector<int64_t> Config::ilist(const std::string& key) const {
  std::vector<int64_t> out;
  for (const auto& item : split(s(key), ',')) {
    int64_t v = 0;
    check(parse_int(item, &v), "config key '" + key + "' is not a list of integers");
    out.push_back(v);
  }
  return out;
}

std::string Config::to_yaml() const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  std::string open_section;
  for (const auto& k : config_keys()) {
    auto dot = k.key.find('.');
    std::string section = dot == std::string::npos ? "" : k.key.substr(0, dot);
    std::string name = dot == std::string::npos ? k.key : k.key.substr(dot + 1);
    if (section != open_section) {
      if (!open_section.empty()) out << YAML::EndMap;
      if (!section.empty()) out << YAML::Key << section << YAML::Value << YAML::BeginMap;
      open_section = section;
    }
    const std::string& v = values_.at(k.key);
    out << YAML::Key << name << YAML::Value;
    if (k.type == KeyType::IntList) {
      out << YAML::Flow << YAML::BeginSeq;
      for (auto x : ilist(k.key)) out << x;
      out << YAML::EndSeq;
    } else if (k.type == KeyType::String) {
      out << YAML::DoubleQuoted << v;
    } else {
      out << v;
    }
  }
  if (!open_section.empty()) out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::string Config::fingerprint(const std::vector<std::string>& prefixes) const {
  std::string joined;
  for (const auto& [k, v] : values_)
    for (const auto& p : prefixes)
      if (k.compare(0, p.size(), p) == 0) {
        joined += k + "=" + v + ";";
        break;
      }
  // FNV-1a: stable across builds and platforms, unlike std::hash.
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : joined) h = (h ^ c) * 1099511628211ull;
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace pdiff
