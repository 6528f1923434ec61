// Fuzzes the config: YAML text, then overrides. The input is the YAML text, a NUL byte, and
// one `section.key=value` override per line. An accepted config must survive its own
// round trip (to_yaml, parsed again) unchanged: that is what `config.yaml` in a run relies on.
#include <cstdio>

#include "core/config.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pdiff::fuzz::init_once();
  std::string input(reinterpret_cast<const char*>(data), size);
  size_t nul = input.find('\0');
  std::string yaml = input.substr(0, nul);
  std::vector<std::string> overrides;
  if (nul != std::string::npos) {
    std::string rest = input.substr(nul + 1);
    size_t start = 0;
    while (start <= rest.size()) {
      size_t end = rest.find('\n', start);
      if (end == std::string::npos) end = rest.size();
      overrides.push_back(rest.substr(start, end - start));
      start = end + 1;
    }
  }
  pdiff::fuzz::accepts([&] {
    pdiff::Config cfg = pdiff::Config::from_yaml_text(yaml, "fuzz.yaml");
    for (const auto& o : overrides) cfg.apply_override(o);
    std::string saved = cfg.to_yaml();
    pdiff::Config again;
    if (!pdiff::fuzz::accepts([&] { again = pdiff::Config::from_yaml_text(saved, "round trip"); }))
      __builtin_trap();  // pdiff wrote a config.yaml it cannot read back
    for (const auto& [key, value] : cfg.values()) {
      if (again.values().at(key) == value) continue;
      std::fprintf(stderr, "round trip changed %s: '%s' -> '%s'\n", key.c_str(), value.c_str(),
                   again.values().at(key).c_str());
      __builtin_trap();
    }
  });
  return 0;
}
