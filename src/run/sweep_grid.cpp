#include "run/sweep_grid.h"

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <set>

#include "core/config.h"
#include "core/error.h"

namespace pdiff {

namespace {

// Keys whose one value may hold a comma: integer lists and free text (zoo.select, paths).
bool value_has_commas(const KeyDef& d) {
  return d.type == KeyType::IntList || (d.type == KeyType::String && d.choices.empty());
}

std::vector<std::string> split_any(const std::string& s, const std::string& seps) {
  std::vector<std::string> out(1);
  for (char c : s) {
    if (seps.find(c) != std::string::npos)
      out.emplace_back();
    else
      out.back() += c;
  }
  return out;
}

const char* kSyntax =
    "write KEY=V1,V2 to sweep KEY (';' between values of list and text keys, quoted: "
    "'ae.channels=8,16;16,32'), KEY=V for a fixed value";

}  // namespace

SweepGrid parse_sweep_words(const std::vector<std::string>& words) {
  SweepGrid grid;
  std::set<std::string> seen;
  for (const auto& w : words) {
    const auto eq = w.find('=');
    check(eq != std::string::npos && eq > 0, "pdiff sweep: '" + w + "' is not KEY=VALUES; " + kSyntax);
    const std::string key = w.substr(0, eq), text = w.substr(eq + 1);
    Config probe;
    if (!find_key(key)) probe.set(key, "", "pdiff sweep");  // throws the unknown-key message with its hints
    const KeyDef* d = find_key(key);
    check(key != "run_dir", "pdiff sweep: '" + w + "': each point's run_dir is set by the sweep (OUT/POINT); "
                            "choose the sweep directory with --out");
    check(seen.insert(key).second, "pdiff sweep: key '" + key + "' is given twice; give each key once");
    const bool commas = value_has_commas(*d);
    std::vector<std::string> values;
    if (text.find(';') != std::string::npos || !commas)
      values = split_any(text, commas ? ";" : ",;");
    else
      values = {text};
    if (values.size() == 1) {  // a fixed override, validated like one
      probe.set(key, text, "command line");
      grid.fixed.push_back(key + "=" + text);
      continue;
    }
    SweepAxis axis{key, {}};
    std::set<std::string> distinct;
    for (const auto& v : values) {
      check(v.find_first_not_of(" \t") != std::string::npos,
            "pdiff sweep: '" + w + "' has an empty value; " + kSyntax);
      probe.set(key, v, "pdiff sweep: '" + w + "'");
      const std::string& canon = probe.s(key);
      check(distinct.insert(canon).second,
            "pdiff sweep: '" + w + "' gives the value " + canon + " twice; give each value once");
      axis.values.push_back(canon);
    }
    grid.axes.push_back(axis);
  }
  check(!grid.axes.empty(), "pdiff sweep: nothing to sweep: give at least one key with two or more values; " +
                                std::string(kSyntax));
  return grid;
}

std::vector<SweepPoint> sweep_points(const SweepGrid& grid) {
  std::vector<SweepPoint> points(1);
  for (const auto& axis : grid.axes) {
    std::vector<SweepPoint> next;
    for (const auto& p : points)
      for (const auto& v : axis.values) {
        SweepPoint q = p;
        q.values.emplace_back(axis.key, v);
        next.push_back(q);
      }
    points = next;
  }
  for (auto& p : points) p.name = point_name(p.values);
  return points;
}

std::string SweepPoint::label() const {
  std::string s;
  for (const auto& [k, v] : values) s += (s.empty() ? "" : " ") + k + "=" + v;
  return s;
}

std::vector<std::string> SweepPoint::overrides() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : values) out.push_back(k + "=" + v);
  return out;
}

std::string point_name(const std::vector<std::pair<std::string, std::string>>& values) {
  std::string name;
  for (const auto& [k, v] : values) {
    name += (name.empty() ? "" : ",") + k + "=";
    for (unsigned char c : v) {
      if (std::isalnum(c) || c == '.' || c == '_' || c == '+' || c == '-') {
        name += char(c);
      } else {
        char buf[4];
        std::snprintf(buf, sizeof buf, "%%%02X", c);
        name += buf;
      }
    }
  }
  if (name.size() <= 200) return name;
  uint64_t h = 1469598103934665603ull;  // FNV-1a, as Config::fingerprint
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  char buf[24];
  std::snprintf(buf, sizeof buf, "point-%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace pdiff
