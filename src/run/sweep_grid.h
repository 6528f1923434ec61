// The grid of `pdiff sweep`: its command-line words parsed into swept keys and fixed overrides,
// and the points (one assignment of every swept key) with their directory names. Only parsing
// and naming: running the points is run/sweep.h.
//
// Syntax (README, docs/design.md): KEY=V1,V2,... sweeps KEY over the values; KEY=V (one value)
// is a fixed override for every point. `;` separates values for every key, and is the only
// separator for keys whose own values hold commas: integer lists (`'ae.channels=8,16;16,32'`)
// and free-text keys (zoo.select patterns, paths). For them a comma stays part of the value.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace pdiff {

struct SweepAxis {
  std::string key;
  std::vector<std::string> values;  // canonical text (as Config stores it), at least two, distinct
};

struct SweepGrid {
  std::vector<SweepAxis> axes;       // in command-line order; the first varies slowest
  std::vector<std::string> fixed;    // "key=value" overrides applied to every point
};

// One point: each swept key's value, in axis order.
struct SweepPoint {
  std::vector<std::pair<std::string, std::string>> values;  // (key, canonical value)
  std::string name;                  // its directory under the sweep directory
  std::string label() const;         // "ae.latent_noise=0.1 generate.eta=0"
  std::vector<std::string> overrides() const;  // "key=value" each
};

// Parses and validates every word (keys exist, values are valid for their key, no key twice,
// run_dir not given); throws pdiff::Error naming the word and what to write instead.
SweepGrid parse_sweep_words(const std::vector<std::string>& words);

// Every combination, the first axis varying slowest.
std::vector<SweepPoint> sweep_points(const SweepGrid& grid);

// A directory name for the assignment: "key=value" joined by ",", each value's characters other
// than letters, digits and ._+- written as %XX (so distinct values give distinct names); a name
// longer than 200 bytes becomes "point-" and a hash of it.
std::string point_name(const std::vector<std::pair<std::string, std::string>>& values);

}  // namespace pdiff
