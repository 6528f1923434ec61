#include "run/table_row.h"

#include <cstdio>
#include <sstream>

#include "core/error.h"
#include "io/file_io.h"
#include "zoo/zoo_file.h"

namespace pdiff {

namespace {

using json = nlohmann::json;

json read_json(const std::string& path) {
  try {
    return json::parse(read_text_file(path));
  } catch (const json::exception& e) {
    throw Error(path + ": not valid JSON (" + e.what() + "); rerun `pdiff eval` with this config");
  }
}

const json& group(const json& report, const std::string& name, const std::string& path) {
  check(report.contains("groups") && report["groups"].contains(name),
        path + ": has no group '" + name + "'; rerun `pdiff eval` with this config");
  return report["groups"][name];
}

json accuracy(const json& g) {
  const json& a = g.at("acc");
  return {{"best", a.at("best")}, {"mean", a.at("mean")}, {"median", a.at("median")}, {"min", a.at("min")},
          {"max_iou", g.at("max_sim").at("mean")}};
}

// The baseline at equal accuracy (mean >= generated mean - 0.1 points, as in the verdict) that
// is most novel (lowest mean max-IoU); null if no baseline reaches that accuracy.
json closest_baseline(const json& groups, double generated_mean) {
  json best = nullptr;
  for (const auto& [name, g] : groups.items()) {
    if (name == "original" || name == "generated" || name == "ensemble") continue;
    const json& iou = g.at("max_sim").at("mean");
    if (g.at("acc").at("mean").get<double>() < generated_mean - 0.1 || iou.is_null()) continue;
    if (best.is_null() || iou.get<double>() < best["max_iou"].get<double>())
      best = {{"name", name}, {"acc_mean", g.at("acc").at("mean")}, {"max_iou", iou}};
  }
  return best;
}

// The targets the generated models should meet against the originals (percent points).
json failed_targets(const json& gen, const json& orig) {
  json failed = json::array();
  auto need = [&](const char* key, double slack) {
    if (gen[key].get<double>() < orig[key].get<double>() - slack) failed.push_back(key);
  };
  need("mean", 0.1);
  need("median", 0.1);
  need("best", 0.2);
  need("min", 1.0);
  return failed;
}


json row_of(const std::string& config, const std::string& run_dir, const json& report, const std::string& path) {
  Zoo zoo = load_zoo(run_dir + "/zoo.pt");
  const json& orig_g = group(report, "original", path);
  check(orig_g.at("n").get<int64_t>() == zoo.params.size(0),
        path + ": evaluates " + orig_g.at("n").dump() + " originals but zoo.pt holds " +
            std::to_string(zoo.params.size(0)) + "; rerun `pdiff eval` with this config");
  json orig = accuracy(orig_g), gen = accuracy(group(report, "generated", path));
  json failed = failed_targets(gen, orig);
  json timings = json::object();
  for (const char* stage : {"collect", "train_ae", "train_ldm", "generate", "eval"})
    timings[stage] = report.at("timings_s").at(stage);
  return {{"config", config},
          {"run_dir", run_dir},
          {"dataset", report.at("config").at("data").at("name")},
          {"arch", report.at("config").at("model").at("arch")},
          {"dim", zoo.layout.dim()},
          {"k", zoo.params.size(0)},
          {"original", orig},
          {"ensemble", group(report, "ensemble", path).at("acc").at("mean")},
          {"generated", gen},
          {"closest_baseline", closest_baseline(report["groups"], gen["mean"].get<double>())},
          {"meets_targets", failed.empty()},
          {"failed_targets", failed},
          {"timings_s", timings}};
}

}  // namespace

std::string format_figure(const char* f, const json& v) {
  if (!v.is_number()) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v.get<double>());
  return buf;
}

json table_row(const std::string& config, const std::string& run_dir) {
  const std::string path = run_dir + "/report.json";
  try {
    return row_of(config, run_dir, read_json(path), path);
  } catch (const json::exception& e) {
    throw Error(path + ": missing or malformed figure (" + e.what() + "); rerun `pdiff eval` with this config");
  }
}

std::string table_markdown(const json& rows) {
  std::ostringstream md;
  md << "| config | dataset | arch | D | K | original best / mean | ensemble "
        "| generated best / mean / median / min | max-IoU generated (originals) "
        "| closest baseline at equal accuracy: acc, max-IoU | meets targets "
        "| collect / train_ae / train_ldm / generate / eval (s) |\n"
     << "|---|---|---|---:|---:|---:|---:|---:|---:|---|---|---:|\n";
  for (const auto& r : rows) {
    const json &o = r["original"], &g = r["generated"], &b = r["closest_baseline"], &t = r["timings_s"];
    std::string targets = "yes";
    if (!r["meets_targets"].get<bool>()) {
      targets = "no (";
      for (size_t i = 0; i < r["failed_targets"].size(); ++i)
        targets += (i ? ", " : "") + r["failed_targets"][i].get<std::string>();
      targets += ")";
    }
    md << "| " << r["config"].get<std::string>() << " | " << r["dataset"].get<std::string>() << " | "
       << r["arch"].get<std::string>() << " | " << r["dim"] << " | " << r["k"] << " | " << format_figure("%.2f", o["best"])
       << " / " << format_figure("%.2f", o["mean"]) << " | " << format_figure("%.2f", r["ensemble"]) << " | " << format_figure("%.2f", g["best"])
       << " / " << format_figure("%.2f", g["mean"]) << " / " << format_figure("%.2f", g["median"]) << " / " << format_figure("%.2f", g["min"])
       << " | " << format_figure("%.3f", g["max_iou"]) << " (" << format_figure("%.3f", o["max_iou"]) << ") | "
       << (b.is_null() ? std::string("none")
                       : b["name"].get<std::string>() + ": " + format_figure("%.2f", b["acc_mean"]) + ", " +
                             format_figure("%.3f", b["max_iou"]))
       << " | " << targets << " | " << format_figure("%.1f", t["collect"]) << " / " << format_figure("%.1f", t["train_ae"]) << " / "
       << format_figure("%.1f", t["train_ldm"]) << " / " << format_figure("%.1f", t["generate"]) << " / " << format_figure("%.1f", t["eval"])
       << " |\n";
  }
  return md.str();
}

}  // namespace pdiff
