// End-to-end tests of `pdiff sweep` on a tiny slice of real Fashion-MNIST, through the real binary:
// a grid of generator keys collects one zoo and evaluates its baselines once, every row equals
// its point's report.json, a second sweep skips everything, a grid over a collection key makes
// one zoo per value, and bad words stop everything before anything is written.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "io/file_io.h"
#include "test_util.h"

namespace pdiff::sweep_cli_test {
namespace {

using json = nlohmann::json;

// Fixed for every point: small but real.
const char* kTiny =
    " threads=1 data.root=/usr/share/datasets/fashion-mnist data.train_limit=600 data.test_limit=300"
    " base.epochs=1 ae.channels=4,8 ae.latent=8 ae.steps=10 ae.batch=4 ldm.channels=4,8 ldm.steps=10"
    " ldm.batch=4 generate.n=6 generate.steps=5 eval.baseline_n=3 eval.nn_k=2 eval.tsne=false";

int sweep(const std::string& args, std::string* out) {
  return test::run_command(test::pdiff_binary() + " sweep " + args, out);
}

struct stat stat_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st;
}

int64_t mtime_ns(const std::string& path) {
  struct stat st = stat_of(path);
  return int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

json read_json(const std::string& path) { return json::parse(read_text_file(path)); }

// The row carries its point's report.json figures unchanged.
void expect_row_matches_report(const json& row, const std::vector<std::string>& keys) {
  const std::string dir = row["run_dir"];
  const json report = read_json(dir + "/report.json");
  const json& g = report["groups"]["generated"];
  for (const auto& key : keys) {
    const auto dot = key.find('.');
    EXPECT_EQ(row["values"][key], report["config"][key.substr(0, dot)][key.substr(dot + 1)]) << dir << " " << key;
  }
  for (const char* k : {"best", "mean", "median", "min"}) EXPECT_EQ(row["generated"][k], g["acc"][k]) << dir << k;
  EXPECT_EQ(row["generated"]["max_iou"], g["max_sim"]["mean"]);
  EXPECT_EQ(row["similarity"]["generated_generated"], report["similarity"]["generated_generated"]);
  EXPECT_EQ(row["similarity"]["origin_origin"], report["similarity"]["origin_origin"]);
  EXPECT_EQ(row["fidelity"], g["fidelity"]);
  EXPECT_TRUE(row["fidelity"]["param"]["precision"].is_number()) << row.dump(2);
  int dominates = 0, dominated = 0;
  for (const auto& [name, d] : report["dominance"]["generated_vs"].items()) {
    EXPECT_EQ(row["dominance"]["vs"][name], d["result"]) << name;
    dominates += d["result"] == "dominates", dominated += d["result"] == "dominated";
  }
  EXPECT_EQ(row["dominance"]["dominates"], dominates);
  EXPECT_EQ(row["dominance"]["dominated"], dominated);
  EXPECT_EQ(row["goal_met"], dominates == int(report["dominance"]["generated_vs"].size()) &&
                                 report["similarity"]["generated_generated"].get<double>() <=
                                     report["similarity"]["origin_origin"].get<double>());
  for (const char* k : {"collect", "train_ae", "train_ldm", "generate", "eval", "total"})
    EXPECT_EQ(row["timings_s"][k], report["timings_s"][k]) << k;
}

TEST(SweepCli, GeneratorGridCollectsOnceAndTheSecondSweepSkipsEverything) {
  const std::string dir = test::temp_dir("sweep"), out_dir = dir + "/sweep";
  const std::string args = "--out " + out_dir + " ae.latent_noise=0.1,0.3 'generate.eta=0;1' zoo.k=6" + std::string(kTiny);
  std::string out;
  ASSERT_EQ(sweep(args, &out), 0) << test::tail(out, 4000);

  // One zoo and one baseline evaluation for the four points; two autoencoders; four samplings.
  EXPECT_EQ(count(out, "== collect: running"), 1u) << test::tail(out, 4000);
  EXPECT_EQ(count(out, "== collect: up to date"), 3u);
  EXPECT_EQ(count(out, "== train: running"), 2u);
  EXPECT_EQ(count(out, "== generate: running"), 4u);
  EXPECT_EQ(count(out, "== eval: running"), 4u);
  EXPECT_EQ(count(out, "baselines: reusing"), 3u);
  EXPECT_EQ(count(out, "=== sweep: point "), 8u) << "a line before and after each point";

  const json s = read_json(out_dir + "/sweep.json");
  ASSERT_EQ(s["points"].size(), 4u) << s.dump(2);
  EXPECT_TRUE(s["failed"].empty());
  EXPECT_TRUE(s["pending"].empty());
  EXPECT_EQ(s["keys"], json({"ae.latent_noise", "generate.eta"}));
  EXPECT_EQ(s["command"], "pdiff sweep " + std::string("--out ") + out_dir +
                              " ae.latent_noise=0.1,0.3 'generate.eta=0;1' zoo.k=6" + kTiny);
  const std::vector<std::pair<double, double>> grid = {{0.1, 0}, {0.1, 1}, {0.3, 0}, {0.3, 1}};
  const std::vector<int> train_from = {1, 1, 3, 3};
  const std::string zoo0 = s["points"][0]["run_dir"].get<std::string>() + "/zoo.pt";
  for (size_t i = 0; i < 4; ++i) {
    const json& row = s["points"][i];
    EXPECT_EQ(row["point"], i + 1);
    EXPECT_EQ(row["values"]["ae.latent_noise"], grid[i].first);
    EXPECT_EQ(row["values"]["generate.eta"], grid[i].second);
    EXPECT_EQ(row["shares"],
              json({{"collect", 1}, {"autoencoder", train_from[i]}, {"train", train_from[i]}, {"generate", i + 1}}));
    expect_row_matches_report(row, {"ae.latent_noise", "generate.eta"});
    const std::string run = row["run_dir"];
    EXPECT_EQ(run.substr(0, out_dir.size() + 1), out_dir + "/");
    // The zoo is one file linked into every point; each point keeps its own config.
    EXPECT_EQ(stat_of(run + "/zoo.pt").st_ino, stat_of(zoo0).st_ino) << run;
    const json report = read_json(run + "/report.json");
    EXPECT_EQ(report["config"]["run_dir"], run);
    EXPECT_NE(read_text_file(run + "/config.yaml").find("eta: " + std::to_string(int(grid[i].second))),
              std::string::npos) << run;
    // The reused baselines' figures are the first point's.
    const json first = read_json(s["points"][0]["run_dir"].get<std::string>() + "/report.json");
    for (const char* b : {"gaussian", "average16", "noise_raw_0.12", "ensemble", "original"})
      EXPECT_EQ(report["groups"][b], first["groups"][b]) << run << " " << b;
  }
  ASSERT_EQ(s["zoos"].size(), 1u);
  EXPECT_EQ(s["zoos"][0]["points"], json({1, 2, 3, 4}));
  EXPECT_EQ(s["zoos"][0]["groups"]["gaussian"]["acc"]["mean"],
            read_json(s["points"][3]["run_dir"].get<std::string>() + "/report.json")["groups"]["gaussian"]["acc"]["mean"]);

  const std::string md = read_text_file(out_dir + "/sweep.md");
  EXPECT_EQ(count(md, "\n| 1 | 0.1 | 0 | 1 |"), 1u) << md;
  EXPECT_EQ(count(md, "\n| 4 | 0.3 | 1 | 1 |"), 1u) << md;
  EXPECT_EQ(count(md, "| [1] / [1] / [1] / "), 1u) << "point 2 shares collect and train with point 1\n" << md;
  EXPECT_EQ(count(md, "## Originals and baselines: zoo 1 (points 1, 2, 3, 4)"), 1u) << md;
  EXPECT_EQ(count(md, "\n| gaussian | 3 |"), 1u) << "the baselines once\n" << md;
  EXPECT_TRUE(file_exists(out_dir + "/sweep.png"));

  // The same sweep again: every point is current, nothing is recomputed or rewritten.
  std::vector<int64_t> reports;
  for (const auto& row : s["points"]) reports.push_back(mtime_ns(row["run_dir"].get<std::string>() + "/report.json"));
  const json s1 = read_json(out_dir + "/sweep.json");
  ASSERT_EQ(sweep(args, &out), 0) << test::tail(out, 4000);
  EXPECT_EQ(count(out, "up to date, skipped"), 4u) << test::tail(out, 4000);
  EXPECT_EQ(count(out, "running"), 0u) << test::tail(out, 4000);
  for (size_t i = 0; i < 4; ++i)
    EXPECT_EQ(mtime_ns(s["points"][i]["run_dir"].get<std::string>() + "/report.json"), reports[i]);
  EXPECT_EQ(read_json(out_dir + "/sweep.json"), s1);

  // A baseline result evaluated anew equals the reused one.
  {
    const std::string p4 = s["points"][3]["run_dir"];
    const json before = read_json(p4 + "/report.json");
    std::remove((p4 + "/baselines.pt").c_str());
    ASSERT_EQ(test::run_command(test::pdiff_binary() + " eval -c '" + p4 + "/config.yaml'", &out), 0)
        << test::tail(out, 3000);
    EXPECT_EQ(count(out, "baselines: reusing"), 0u);
    const json after = read_json(p4 + "/report.json");
    EXPECT_EQ(after["groups"], before["groups"]);
    EXPECT_EQ(after["dominance"], before["dominance"]);
  }

  // A sweep interrupted before the last point's sampling: the next one redoes only that.
  const std::string p4 = s["points"][3]["run_dir"];
  std::remove((p4 + "/generated.pt").c_str());
  std::remove((p4 + "/report.json").c_str());
  ASSERT_EQ(sweep(args, &out), 0) << test::tail(out, 4000);
  EXPECT_EQ(count(out, "up to date, skipped"), 3u + 2u) << "three points, and point 4's collect and train\n"
                                                        << test::tail(out, 4000);
  EXPECT_EQ(count(out, "== generate: running"), 1u);
  EXPECT_EQ(count(out, "== eval: running"), 1u);
  EXPECT_EQ(count(out, "baselines: reusing"), 1u);
  EXPECT_EQ(read_json(out_dir + "/sweep.json")["points"].size(), 4u);
}

// A grid of diffusion keys only: one zoo and one autoencoder, linked into every point; a
// diffusion model of its own for each.
TEST(SweepCli, DiffusionGridTrainsOneAutoencoder) {
  const std::string dir = test::temp_dir("sweep_ldm"), out_dir = dir + "/sweep";
  std::string out;
  ASSERT_EQ(sweep("--out " + out_dir + " zoo.k=6 ldm.lr=1e-3,2e-3" + std::string(kTiny), &out), 0)
      << test::tail(out, 4000);
  EXPECT_EQ(count(out, "== collect: running"), 1u) << test::tail(out, 4000);
  EXPECT_EQ(count(out, "== sweep: collect, autoencoder shared with"), 1u) << test::tail(out, 4000);
  EXPECT_EQ(count(out, "ae: reusing"), 1u) << test::tail(out, 4000);
  const json s = read_json(out_dir + "/sweep.json");
  ASSERT_EQ(s["points"].size(), 2u) << s.dump(2);
  const std::string a = s["points"][0]["run_dir"], b = s["points"][1]["run_dir"];
  EXPECT_EQ(stat_of(a + "/ae.pt").st_ino, stat_of(b + "/ae.pt").st_ino);
  EXPECT_NE(stat_of(a + "/ldm.pt").st_ino, stat_of(b + "/ldm.pt").st_ino);
  for (const auto& row : s["points"]) expect_row_matches_report(row, {"ldm.lr"});
  EXPECT_EQ(s["points"][1]["shares"], json({{"collect", 1}, {"autoencoder", 1}, {"train", 2}, {"generate", 2}}));
  // The sweep's table shows the autoencoder as point 1's and counts its time once.
  EXPECT_EQ(count(read_text_file(out_dir + "/sweep.md"), "| [1] / [1] / "), 1u) << read_text_file(out_dir + "/sweep.md");
}

TEST(SweepCli, CollectionGridMakesOneZooPerValue) {
  const std::string dir = test::temp_dir("sweep_zoo"), out_dir = dir + "/sweep";
  std::string out;
  ASSERT_EQ(sweep("--out " + out_dir + " zoo.k=4,6" + std::string(kTiny), &out), 0) << test::tail(out, 4000);
  EXPECT_EQ(count(out, "== collect: running"), 2u) << test::tail(out, 4000);
  EXPECT_EQ(count(out, "baselines: reusing"), 0u);
  const json s = read_json(out_dir + "/sweep.json");
  ASSERT_EQ(s["points"].size(), 2u);
  for (const auto& row : s["points"]) expect_row_matches_report(row, {"zoo.k"});
  EXPECT_EQ(s["points"][0]["values"]["zoo.k"], 4);
  EXPECT_EQ(s["points"][1]["shares"], json({{"collect", 2}, {"autoencoder", 2}, {"train", 2}, {"generate", 2}}));
  ASSERT_EQ(s["zoos"].size(), 2u);
  EXPECT_EQ(s["zoos"][0]["groups"]["original"]["n"], 4);
  EXPECT_EQ(s["zoos"][1]["groups"]["original"]["n"], 6);
  const std::string md = read_text_file(out_dir + "/sweep.md");
  EXPECT_EQ(count(md, "## Originals and baselines: zoo "), 2u) << md;
  EXPECT_TRUE(file_exists(out_dir + "/sweep.png"));
}

TEST(SweepCli, NamedSweepsInOneFolderShareTheirZoos) {
  const std::string dir = test::temp_dir("sweep_named"), out_dir = dir + "/sweep";
  std::string out;
  ASSERT_EQ(sweep("--out " + out_dir + " --name noise zoo.k=5 ae.latent_noise=0.1,0.3" + std::string(kTiny), &out), 0)
      << test::tail(out, 4000);
  EXPECT_EQ(count(out, "== collect: running"), 1u) << test::tail(out, 4000);
  // Another grid on the same zoo, in the same folder: nothing of the first is collected or
  // trained again, and the first sweep's table stays as it was.
  const std::string first = read_text_file(out_dir + "/noise.md");
  ASSERT_EQ(sweep("--out " + out_dir + " --name eta zoo.k=5 'generate.eta=0;1'" + std::string(kTiny), &out), 0)
      << test::tail(out, 4000);
  EXPECT_EQ(count(out, "== collect: running"), 0u) << test::tail(out, 4000);
  EXPECT_EQ(count(out, "== train: running"), 0u) << "ae.latent_noise=0.1 is the default: its models are shared\n"
                                                 << test::tail(out, 4000);
  EXPECT_EQ(count(out, "== generate: running"), 1u) << "eta 0 is point 1 of the first sweep\n" << test::tail(out, 4000);
  EXPECT_EQ(count(out, "baselines: reusing"), 2u);
  EXPECT_EQ(read_text_file(out_dir + "/noise.md"), first);
  const json s = read_json(out_dir + "/eta.json");
  ASSERT_EQ(s["points"].size(), 2u);
  for (const auto& row : s["points"]) expect_row_matches_report(row, {"generate.eta"});
  EXPECT_CONTAINS(read_text_file(out_dir + "/eta.md"), "](eta.png)");
  EXPECT_TRUE(file_exists(out_dir + "/eta.png"));
  EXPECT_FALSE(file_exists(out_dir + "/sweep.md"));
  EXPECT_NE(sweep("--out " + out_dir + " --name ../x generate.eta=0,1" + std::string(kTiny), &out), 0);
  EXPECT_CONTAINS(out, "--name ../x: give a plain file name");
}

TEST(SweepCli, BadWordsStopBeforeAnythingIsWritten) {
  const std::string dir = test::temp_dir("sweep_bad"), out_dir = dir + "/sweep";
  std::string out;
  auto refused = [&](const std::string& words, const std::string& message) {
    EXPECT_NE(sweep("--out " + out_dir + " " + words + kTiny, &out), 0) << words;
    EXPECT_CONTAINS(out, message);
    EXPECT_EQ(out.find("internal error"), std::string::npos) << out;
    EXPECT_FALSE(file_exists(out_dir)) << words;
  };
  // One refusal of the words' parser (SweepGrid.BadWordsSayWhatToWrite tests its every message
  // in-process), one of a value the grid's configs would get, one of the config file.
  refused("ae.latnt_noise=0.1,0.3", "unknown config key 'ae.latnt_noise'");
  refused("generate.eta=0,1 zoo.k=-3", "key 'zoo.k' = '-3': must be >= 1");
  EXPECT_NE(sweep("--out " + out_dir + " --config " + dir + "/missing.yaml generate.eta=0,1", &out), 0);
  EXPECT_CONTAINS(out, dir + "/missing.yaml: config file not found");
  EXPECT_FALSE(file_exists(out_dir));
}

}  // namespace
}  // namespace pdiff::sweep_cli_test
