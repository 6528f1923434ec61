#include "run/sweep_report.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "core/error.h"
#include "io/file_io.h"
#include "eval/dominance.h"
#include "eval/plots.h"
#include "run/table_row.h"

namespace pdiff {

namespace {

using json = nlohmann::json;

json read_report(const std::string& run_dir) {
  const std::string path = run_dir + "/report.json";
  try {
    return json::parse(read_text_file(path));
  } catch (const json::exception& e) {
    throw Error(path + ": not valid JSON (" + e.what() + "); rerun the sweep to redo this point's eval");
  }
}

// report.json's config value of a dotted key (typed: numbers stay numbers, lists lists).
json config_value(const json& config, const std::string& key) {
  auto dot = key.find('.');
  return dot == std::string::npos ? config.at(key) : config.at(key.substr(0, dot)).at(key.substr(dot + 1));
}

json group_figures(const json& g) {
  return {{"n", g.at("n")},
          {"acc", {{"best", g.at("acc").at("best")}, {"mean", g.at("acc").at("mean")},
                   {"median", g.at("acc").at("median")}, {"min", g.at("acc").at("min")}}},
          {"max_iou", g.at("max_sim").at("mean")},
          {"fidelity", g.value("fidelity", json(nullptr))}};
}


// "precision / recall / coverage" of one space of a fidelity object, "n/a" where absent.
std::string prc(const json& fidelity, const char* space) {
  if (!fidelity.is_object() || !fidelity.contains(space)) return "n/a";
  const json& f = fidelity[space];
  return format_figure("%.2f", f.value("precision", json(nullptr))) + " / " + format_figure("%.2f", f.value("recall", json(nullptr))) +
         " / " + format_figure("%.2f", f.value("coverage", json(nullptr)));
}

std::string value_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ",") + value_text(x);
    return s;
  }
  if (v.is_number_float()) {  // the shortest text that reads back as the same double: 0.1, 0, 1e-05
    char buf[32];
    for (int precision = 1; precision <= 17; ++precision) {
      std::snprintf(buf, sizeof buf, "%.*g", precision, v.get<double>());
      if (std::strtod(buf, nullptr) == v.get<double>()) break;
    }
    return buf;
  }
  return v.dump();
}

// The originals, the ensemble, then the baselines (by name).
std::vector<std::pair<std::string, json>> ordered_groups(const json& groups) {
  std::vector<std::pair<std::string, json>> out;
  for (const char* first : {"original", "ensemble"})
    if (groups.contains(first)) out.emplace_back(first, groups[first]);
  for (const auto& [name, g] : groups.items())
    if (name != "original" && name != "ensemble") out.emplace_back(name, g);
  return out;
}

}  // namespace

json sweep_row(int point, const std::string& name, const std::string& run_dir, const std::vector<std::string>& keys,
               const json& shares) {
  const json report = read_report(run_dir);
  const std::string path = run_dir + "/report.json";
  try {
    json values = json::object();
    for (const auto& k : keys) values[k] = config_value(report.at("config"), k);
    const json& g = report.at("groups").at("generated");
    json generated = group_figures(g)["acc"];
    generated["max_iou"] = g.at("max_sim").at("mean");
    const json& sim = report.at("similarity");
    json similarity = {{"generated_generated", sim.at("generated_generated")},
                       {"origin_origin", sim.at("origin_origin")}};
    json vs = json::object();
    int count[3] = {0, 0, 0};  // dominates, dominated, neither
    if (report.contains("dominance"))
      for (const auto& [baseline, d] : report["dominance"].at("generated_vs").items()) {
        const std::string r = d.at("result");
        vs[baseline] = r;
        ++count[r == to_string(Dominance::Dominates) ? 0 : r == to_string(Dominance::Dominated) ? 1 : 2];
      }
    const bool diverse = similarity["generated_generated"].is_number() && similarity["origin_origin"].is_number() &&
                         similarity["generated_generated"].get<double>() <= similarity["origin_origin"].get<double>();
    json timings = json::object();
    for (const char* stage : {"collect", "train_ae", "train_ldm", "generate", "eval", "total"})
      timings[stage] = report.at("timings_s").at(stage);
    return {{"point", point},
            {"name", name},
            {"run_dir", run_dir},
            {"values", values},
            {"shares", shares},
            {"generated", generated},
            {"similarity", similarity},
            {"fidelity", g.value("fidelity", json(nullptr))},
            {"dominance", {{"dominates", count[0]}, {"dominated", count[1]}, {"neither", count[2]}, {"vs", vs}}},
            {"goal_met", !vs.empty() && count[0] == int(vs.size()) && diverse},
            {"timings_s", timings}};
  } catch (const json::exception& e) {
    throw Error(path + ": missing or malformed figure (" + e.what() + "); rerun the sweep to redo this point's eval");
  }
}

json sweep_baselines(const std::string& run_dir) {
  const json report = read_report(run_dir);
  try {
    json out = json::object();
    for (const auto& [name, g] : report.at("groups").items())
      if (name != "generated") out[name] = group_figures(g);
    return out;
  } catch (const json::exception& e) {
    throw Error(run_dir + "/report.json: missing or malformed figure (" + e.what() + ")");
  }
}

std::string sweep_markdown(const json& sweep) {
  const json& keys = sweep.at("keys");
  std::ostringstream md;
  std::string title;
  for (const auto& k : keys) title += (title.empty() ? "" : " x ") + k.get<std::string>();
  md << "# pdiff sweep: " << title << "\n\n"
     << "One row per point of the grid. Accuracy in percent on the test set; max-IoU: mean over the generated "
        "models of the highest IoU of wrong-prediction sets with any original (lower is more novel); gen-gen IoU: "
        "mean IoU between generated models (the originals' own in brackets: lower is more diverse); precision / "
        "recall / coverage against the originals in parameter and prediction space (report.md); dominates / "
        "dominated by: baseline groups the generated models dominate on mean accuracy and mean max-IoU, and that "
        "dominate them; goal: dominates every baseline and gen-gen <= orig-orig. Stage times in seconds; [n]: the "
        "stage's outputs are point n's (same keys), shared, not recomputed.\n\n| # |";
  for (const auto& k : keys) md << " " << k.get<std::string>() << " |";
  md << " zoo | generated best / mean / median | max-IoU | gen-gen IoU (orig-orig) | param P / R / C "
        "| pred P / R / C | dominates | dominated by | goal | collect / train_ae / train_ldm / generate / eval |\n|---:|";
  for (size_t i = 0; i < keys.size(); ++i) md << "---|";
  md << "---:|---:|---:|---:|---:|---:|---:|---:|---|---:|\n";
  double sweep_s = 0, separate_s = 0;
  for (const auto& p : sweep.at("points")) {
    const int own = p.at("point");
    const json &g = p["generated"], &s = p["similarity"], &t = p["timings_s"], &sh = p["shares"], &d = p["dominance"];
    md << "| " << own << " |";
    for (const auto& k : keys) md << " " << value_text(p["values"][k.get<std::string>()]) << " |";
    const int n_baselines = d["dominates"].get<int>() + d["dominated"].get<int>() + d["neither"].get<int>();
    md << " " << sh["collect"] << " | " << format_figure("%.2f", g["best"]) << " / " << format_figure("%.2f", g["mean"]) << " / "
       << format_figure("%.2f", g["median"]) << " | " << format_figure("%.3f", g["max_iou"]) << " | "
       << format_figure("%.3f", s["generated_generated"]) << " (" << format_figure("%.3f", s["origin_origin"]) << ") | "
       << prc(p["fidelity"], "param") << " | " << prc(p["fidelity"], "pred") << " | " << d["dominates"] << " of "
       << n_baselines << " | " << d["dominated"] << " | " << (p["goal_met"].get<bool>() ? "yes" : "no") << " | ";
    auto stage = [&](const char* key, const char* group) {
      const int from = sh.at(group);
      if (from != own) return "[" + std::to_string(from) + "]";
      sweep_s += t[key].is_number() ? t[key].get<double>() : 0.0;
      return format_figure("%.1f", t[key]);
    };
    md << stage("collect", "collect") << " / " << stage("train_ae", "autoencoder") << " / " << stage("train_ldm", "train")
       << " / " << stage("generate", "generate") << " / ";
    sweep_s += t["eval"].is_number() ? t["eval"].get<double>() : 0.0;
    separate_s += t["total"].is_number() ? t["total"].get<double>() : 0.0;
    md << format_figure("%.1f", t["eval"]) << " |\n";
  }
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "\nStage time of the sweep: %.1f s (shared stages counted once; later points on a zoo reuse its "
                "baselines' evaluation, baselines.pt). The points' own totals add up to %.1f s.\n",
                sweep_s, separate_s);
  md << buf;

  for (const auto& z : sweep.at("zoos")) {
    std::string points;
    for (const auto& n : z["points"]) points += (points.empty() ? "" : ", ") + std::to_string(n.get<int>());
    md << "\n## Originals and baselines: zoo " << z["zoo"] << " (points " << points << ")\n\n"
       << "The same for every point on this zoo (the baselines are drawn from it).\n\n"
       << "| group | n | best | mean | max-IoU | param P / R / C | pred P / R / C |\n"
       << "|---|---:|---:|---:|---:|---:|---:|\n";
    for (const auto& [name, b] : ordered_groups(z["groups"]))
      md << "| " << name << " | " << b["n"] << " | " << format_figure("%.2f", b["acc"]["best"]) << " | "
         << format_figure("%.2f", b["acc"]["mean"]) << " | " << format_figure("%.3f", b["max_iou"]) << " | " << prc(b["fidelity"], "param")
         << " | " << prc(b["fidelity"], "pred") << " |\n";
  }
  for (const auto& f : sweep.at("failed"))
    md << "\nFailed: point " << f["point"] << " (`" << f["name"].get<std::string>()
       << "`): " << f["error"].get<std::string>() << "\n";
  for (const auto& p : sweep.at("pending")) md << "\nNot run yet: `" << p.get<std::string>() << "`\n";
  md << "\n![every point against the baselines](" << sweep.value("name", std::string("sweep"))
     << ".png)\n\nCommand:\n\n    " << sweep.at("command").get<std::string>()
     << "\n";
  return md.str();
}

void plot_sweep(const std::string& path, const json& sweep) {
  if (sweep.at("points").empty()) return;
  std::string keys;
  for (const auto& k : sweep.at("keys")) keys += (keys.empty() ? "" : ", ") + k.get<std::string>();
  std::vector<LabelledSeries> series(1);
  series[0].name = "generated mean of each point (" + keys + ")";
  for (const auto& p : sweep.at("points")) {
    std::string label;
    for (const auto& k : sweep.at("keys")) label += (label.empty() ? "" : ", ") + value_text(p["values"][k.get<std::string>()]);
    const json &x = p["generated"]["max_iou"], &y = p["generated"]["mean"];
    series[0].x.push_back(x.is_number() ? x.get<double>() : NAN);
    series[0].y.push_back(y.is_number() ? y.get<double>() : NAN);
    series[0].labels.push_back(label);
  }
  const bool one_zoo = sweep.at("zoos").size() == 1;
  for (const auto& z : sweep.at("zoos")) {
    LabelledSeries s;
    s.name = one_zoo ? "originals, ensemble and baselines (means)"
                     : "originals, ensemble and baselines, zoo " + z["zoo"].dump();
    for (const auto& [name, b] : ordered_groups(z["groups"])) {
      const json &x = b["max_iou"], &y = b["acc"]["mean"];
      s.x.push_back(x.is_number() ? x.get<double>() : NAN);
      s.y.push_back(y.is_number() ? y.get<double>() : NAN);
      s.labels.push_back(name);
    }
    series.push_back(s);
  }
  plot_labelled(path, "Sweep points against the baselines (group means; up and left is better)",
                "mean max-IoU to the originals (lower = more novel)",
                "mean test accuracy (%)", series);
}

}  // namespace pdiff
