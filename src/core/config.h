// Experiment configuration: one YAML file per experiment plus `section.key=value` overrides.
// Every key is declared once in config_keys.cpp (name, type, default, range, help); loading,
// validation, help text and the saved resolved config all come from that one table.
#pragma once
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace pdiff {

enum class KeyType { Int, Float, Bool, String, IntList };

struct KeyDef {
  std::string key;            // dotted name, e.g. "zoo.k"
  KeyType type;
  std::string default_value;  // canonical text form
  std::string help;
  double min = -1e300, max = 1e300;   // inclusive range for numbers (each element of a list)
  std::vector<std::string> choices;   // allowed values for strings, if non-empty
};

// The table of every key (config_keys.cpp).
const std::vector<KeyDef>& config_keys();
const KeyDef* find_key(const std::string& key);

class Config {
 public:
  // All defaults (the benchmark task of SPEC section 5).
  Config();
  // Defaults, then the YAML file, then overrides, then the recipe preset for keys left unset.
  static Config load(const std::string& yaml_path, const std::vector<std::string>& overrides = {});
  // Parses a YAML text (as saved by to_yaml); `origin` names it in errors.
  static Config from_yaml_text(const std::string& text, const std::string& origin);

  // Validates and stores; `origin` names the file or "command line" in error messages.
  void set(const std::string& key, const std::string& value, const std::string& origin);
  void apply_override(const std::string& assignment);  // "section.key=value"

  int64_t i(const std::string& key) const;
  // An integer key holding one of its words (`auto`) instead of a number.
  bool is_word(const std::string& key) const;
  double f(const std::string& key) const;
  bool b(const std::string& key) const;
  const std::string& s(const std::string& key) const;
  std::vector<int64_t> ilist(const std::string& key) const;

  // The resolved config as nested YAML.
  std::string to_yaml() const;
  // A stable fingerprint of the keys whose names start with any of the prefixes; a stage's
  // outputs are reused only if the fingerprint of its inputs' keys is unchanged.
  std::string fingerprint(const std::vector<std::string>& prefixes) const;
  const std::map<std::string, std::string>& values() const { return values_; }

 private:
  void apply_recipe();
  std::map<std::string, std::string> values_;
  std::set<std::string> explicit_;  // keys set by a file or an override
};

}  // namespace pdiff
