// End-to-end tests of `pdiff table` on a tiny slice of real Fashion-MNIST, through the real binary.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "io/file_io.h"
#include "run/table_row.h"
#include "test_util.h"

namespace pdiff::table_cli_test {
namespace {

using json = nlohmann::json;

// Applied to every config of the table: small but real; no figure of the table is gated, only
// carried from the runs' reports.
const char* kTiny =
    " threads=1 data.train_limit=256 data.test_limit=128 base.epochs=1 zoo.k=6"
    " ae.channels=8,16,16,8 ae.latent=32 ae.steps=10 ae.batch=6 ldm.channels=8,16 ldm.steps=10"
    " ldm.batch=6 generate.n=4 generate.steps=5 eval.baseline_n=2 eval.barrier_pairs=1 eval.tsne=false";

std::string write_config(const std::string& dir, const std::string& name, const std::string& select,
                         const std::string& root = "/usr/share/datasets/fashion-mnist") {
  std::string path = dir + "/" + name + ".yaml";
  write_file_atomic(path, "run_dir: " + dir + "/" + name + "\ndata:\n  name: fashion-mnist\n  root: " + root +
                              "\nmodel:\n  arch: convnet4\nzoo:\n  select: " + select + "\n");
  return path;
}

int table(const std::string& args, std::string* out) {
  return test::run_command(test::pdiff_binary() + " table " + args, out);
}

int64_t mtime_ns(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return -1;
  return int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

// The row carries the run's report.json figures unchanged, and its derived columns follow them.
void expect_row_matches_report(const json& row, const std::string& run_dir) {
  auto report = json::parse(read_text_file(run_dir + "/report.json"));
  const json& groups = report["groups"];
  EXPECT_EQ(row["run_dir"], run_dir);
  EXPECT_EQ(row["dataset"], "fashion-mnist");
  EXPECT_EQ(row["arch"], "convnet4");
  EXPECT_EQ(row["k"], 6);
  for (const char* g : {"original", "generated"}) {
    for (const char* k : {"best", "mean", "median", "min"}) EXPECT_EQ(row[g][k], groups[g]["acc"][k]) << g << k;
    EXPECT_EQ(row[g]["max_iou"], groups[g]["max_sim"]["mean"]) << g;
  }
  EXPECT_EQ(row["ensemble"], groups["ensemble"]["acc"]["mean"]);
  for (const char* k : {"collect", "train_ae", "train_ldm", "generate", "eval"})
    EXPECT_EQ(row["timings_s"][k], report["timings_s"][k]) << k;

  const double gen_mean = groups["generated"]["acc"]["mean"];
  const json& b = row["closest_baseline"];
  for (const auto& [name, g] : groups.items()) {
    if (name == "original" || name == "generated" || name == "ensemble") continue;
    if (g["acc"]["mean"].get<double>() < gen_mean - 0.1) continue;
    ASSERT_FALSE(b.is_null()) << name << " reaches the generated accuracy";
    EXPECT_LE(b["max_iou"].get<double>(), g["max_sim"]["mean"].get<double>()) << name << " is more novel";
  }
  if (!b.is_null()) {
    EXPECT_EQ(b["acc_mean"], groups[b["name"].get<std::string>()]["acc"]["mean"]);
    EXPECT_GE(b["acc_mean"].get<double>(), gen_mean - 0.1);
  }
  const json &o = groups["original"]["acc"], &g = groups["generated"]["acc"];
  const bool meets = g["mean"].get<double>() >= o["mean"].get<double>() - 0.1 &&
                     g["median"].get<double>() >= o["median"].get<double>() - 0.1 &&
                     g["best"].get<double>() >= o["best"].get<double>() - 0.2 &&
                     g["min"].get<double>() >= o["min"].get<double>() - 1.0;
  EXPECT_EQ(row["meets_targets"], meets);
  EXPECT_EQ(row["failed_targets"].empty(), meets);
}

TEST(TableCli, RunsEveryConfigThenSkipsEverythingOnTheSecondRun) {
  const std::string dir = test::temp_dir("table"), out_dir = dir + "/table";
  const std::string a = write_config(dir, "a", "last_norm:2"), b = write_config(dir, "b", "bn4");
  const std::string args = a + " " + b + " --out " + out_dir + kTiny;
  std::string out;
  ASSERT_EQ(table(args, &out), 0) << test::tail(out, 3000);

  auto t = json::parse(read_text_file(out_dir + "/table.json"));
  ASSERT_EQ(t["rows"].size(), 2u) << t.dump(2);
  EXPECT_TRUE(t["failed"].empty());
  EXPECT_EQ(t["rows"][0]["config"], a);
  EXPECT_EQ(t["rows"][0]["dim"], 768);
  EXPECT_EQ(t["rows"][1]["dim"], 512);
  expect_row_matches_report(t["rows"][0], dir + "/a");
  expect_row_matches_report(t["rows"][1], dir + "/b");
  const std::string md = read_text_file(out_dir + "/table.md");
  EXPECT_NE(md.find("| " + a + " | fashion-mnist | convnet4 | 768 | 6 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| " + b + " | fashion-mnist | convnet4 | 512 | 6 |"), std::string::npos) << md;
  EXPECT_NE(md.find("pdiff table " + args), std::string::npos) << "the command under the table\n" << md;
  EXPECT_EQ(t["command"], "pdiff table " + args);

  // Same configs again: every stage of both skipped, the same table rewritten.
  const int64_t zoo_a = mtime_ns(dir + "/a/zoo.pt"), zoo_b = mtime_ns(dir + "/b/zoo.pt");
  const int64_t report_a = mtime_ns(dir + "/a/report.json");
  ASSERT_EQ(table(args, &out), 0) << test::tail(out, 3000);
  for (const char* stage : {"collect: up to date", "train: up to date", "generate: up to date", "eval: up to date"})
    EXPECT_EQ(count(out, stage), 2u) << stage << "\n" << test::tail(out, 3000);
  EXPECT_EQ(mtime_ns(dir + "/a/zoo.pt"), zoo_a);
  EXPECT_EQ(mtime_ns(dir + "/b/zoo.pt"), zoo_b);
  EXPECT_EQ(mtime_ns(dir + "/a/report.json"), report_a);
  EXPECT_EQ(read_text_file(out_dir + "/table.json"), t.dump(2) + "\n");
  EXPECT_EQ(read_text_file(out_dir + "/table.md"), md);

  // Derived columns on an edited report: the most novel baseline at equal accuracy is named (one
  // 0.25 points below the generated mean is not at equal accuracy), and the failed target is listed.
  {
    const std::string c = dir + "/c";
    make_dirs(c);
    write_file_atomic(c + "/zoo.pt", read_text_file(dir + "/a/zoo.pt"));
    auto report = json::parse(read_text_file(dir + "/a/report.json"));
    json& G = report["groups"];
    G["generated"]["acc"] = G["original"]["acc"];
    const double mean = G["original"]["acc"]["mean"], min = G["original"]["acc"]["min"];
    G["generated"]["acc"]["mean"] = mean - 0.05;
    G["generated"]["acc"]["min"] = min - 1.5;
    auto set = [&](const char* g, double acc, double iou) {
      G[g]["acc"]["mean"] = acc;
      G[g]["max_sim"]["mean"] = iou;
    };
    set("noise_std_0.05", mean + 1, 0.5);
    set("gaussian", mean - 0.1, 0.4);
    set("average16", mean - 0.3, 0.1);
    write_file_atomic(c + "/report.json", report.dump(2));
    json row = table_row(dir + "/c.yaml", c);
    expect_row_matches_report(row, c);
    EXPECT_EQ(row["closest_baseline"]["name"], "gaussian") << row.dump(2);
    EXPECT_EQ(row["failed_targets"], json::array({"min"})) << row.dump(2);
    const std::string line = table_markdown(json::array({row}));
    EXPECT_NE(line.find("| gaussian: "), std::string::npos) << line;
    EXPECT_NE(line.find(", 0.400 | no (min) |"), std::string::npos) << line;
  }

  // A config that fails while running (no data) loses no other row; the exit code says it failed.
  const std::string bad = write_config(dir, "bad", "bn4", dir + "/no-such-data");
  ASSERT_NE(table(bad + " " + a + " --out " + dir + "/table2" + kTiny, &out), 0) << test::tail(out, 3000);
  EXPECT_NE(out.find("config " + bad), std::string::npos) << test::tail(out, 3000);
  EXPECT_NE(out.find("1 of 2 configs failed"), std::string::npos) << test::tail(out, 3000);
  auto t2 = json::parse(read_text_file(dir + "/table2/table.json"));
  ASSERT_EQ(t2["rows"].size(), 1u) << t2.dump(2);
  EXPECT_EQ(t2["rows"][0], t["rows"][0]);
  ASSERT_EQ(t2["failed"].size(), 1u);
  EXPECT_EQ(t2["failed"][0]["config"], bad);
  EXPECT_NE(read_text_file(dir + "/table2/table.md").find("Failed: `" + bad + "`"), std::string::npos);
}

// The shipped configs of separate trainings (zoo.mode=scratch: the whole MLP and the whole
// ConvNet-4, aligned, repaired or recalibrated) through `pdiff table` as a user runs them, from
// their own relative run directories, at tiny budgets (runs of 5 steps); PyTorch re-evaluates
// both runs. (Configs/ShippedConfig runs the other shipped configs.)
TEST(TableCli, RunsTheShippedScratchConfigs) {
  const std::string dir = test::temp_dir("table_scratch");
  const std::string configs = test::source_dir() + "/configs/";
  const std::string args = configs + "fmnist-mlp-scratch.yaml " + configs + "fmnist-convnet4-scratch.yaml --out table" +
                           kTiny + " zoo.run_iters=5 ae.token_hidden=16 ldm.subspace=4";  // the MLP's 80 needs K > 80
  std::string out;
  ASSERT_EQ(test::run_command("cd '" + dir + "' && " + test::pdiff_binary() + " table " + args, &out), 0)
      << test::tail(out, 3000);
  auto t = json::parse(read_text_file(dir + "/table/table.json"));
  ASSERT_EQ(t["rows"].size(), 2u) << t.dump(2);
  EXPECT_TRUE(t["failed"].empty());
  const std::vector<std::pair<std::string, int64_t>> expected = {{"runs/fmnist-mlp-scratch", 235146},
                                                                 {"runs/fmnist-convnet4-scratch", 391850}};
  for (size_t i = 0; i < expected.size(); ++i) {
    const json& row = t["rows"][i];
    EXPECT_EQ(row["run_dir"], expected[i].first);
    EXPECT_EQ(row["dim"], expected[i].second);  // every weight and bias (and the ConvNet's statistics)
    EXPECT_EQ(row["k"], 6);
    auto report = json::parse(read_text_file(dir + "/" + expected[i].first + "/report.json"));
    EXPECT_EQ(row["generated"]["mean"], report["groups"]["generated"]["acc"]["mean"]);
    EXPECT_EQ(report["config"]["zoo"]["align"], "weights");
  }
  std::string py;
  const std::string runs = "runs/fmnist-mlp-scratch runs/fmnist-convnet4-scratch";
  EXPECT_EQ(test::run_command("cd '" + dir + "' && " + test::python_script_command("check_run.py", runs), &py), 0)
      << py;
}

TEST(TableCli, BadInputStopsBeforeAnythingRuns) {
  const std::string dir = test::temp_dir("table_bad");
  const std::string a = write_config(dir, "a", "bn4");
  std::string out;
  EXPECT_NE(table(a + " " + dir + "/missing.yaml --out " + dir + "/table" + kTiny, &out), 0);
  EXPECT_NE(out.find(dir + "/missing.yaml: config file not found"), std::string::npos) << out;
  EXPECT_EQ(out.find("internal error"), std::string::npos) << out;
  // Two configs in one run directory would overwrite each other.
  EXPECT_NE(table(a + " " + a + " --out " + dir + "/table" + kTiny, &out), 0);
  EXPECT_NE(out.find("both use run_dir"), std::string::npos) << out;
  EXPECT_FALSE(file_exists(dir + "/table"));
  EXPECT_FALSE(file_exists(dir + "/a"));
}

}  // namespace
}  // namespace pdiff::table_cli_test
