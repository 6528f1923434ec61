// End-to-end tests of `pdiff run` and `pdiff eval` on a tiny slice of real Fashion-MNIST.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdio>

#include "gen/generate.h"
#include "io/file_io.h"
#include "test_util.h"
#include "zoo/zoo_file.h"

namespace pdiff::run_cli_test {
namespace {

std::string tiny(const std::string& dir) {
  return " run_dir=" + dir +
         " threads=2 data.train_limit=1000 data.test_limit=500 base.epochs=1 zoo.k=20"
         " ae.channels=8,16,16,8 ae.latent=32 ae.steps=60 ae.batch=10 ldm.channels=8,16 ldm.steps=60"
         " ldm.batch=20 generate.n=12 generate.steps=10 eval.baseline_n=6";
}

int pdiff(const std::string& sub, const std::string& args, std::string* out) {
  return test::run_command(test::pdiff_binary() + " " + sub + args, out);
}

std::string two_decimals(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

// The verdict says what the report's numbers say: the generated and original accuracies it
// quotes, "do not work" when the generated mean is over 1 point below the weakest original,
// and otherwise which baselines (every group but original, generated and ensemble) reach the
// generated accuracy within 0.1 points with a max-IoU at most the generated one (rivals: NO)
// or above it (less novel: YES when there is no rival).
void expect_verdict_matches_groups(const std::string& verdict, const nlohmann::json& groups) {
  const double gen_mean = groups["generated"]["acc"]["mean"], gen_sim = groups["generated"]["max_sim"]["mean"];
  const double orig_mean = groups["original"]["acc"]["mean"], orig_min = groups["original"]["acc"]["min"];
  EXPECT_CONTAINS(verdict, "Generated models: mean accuracy " + two_decimals(gen_mean) + " % (originals " +
                               two_decimals(orig_mean) + " %)");
  if (gen_mean < orig_min - 1.0) {
    EXPECT_CONTAINS(verdict, "NO: the generated models do not work");
    return;
  }
  EXPECT_EQ(verdict.find("do not work"), std::string::npos) << verdict;
  std::vector<std::string> rivals, beaten;
  for (const auto& [name, g] : groups.items()) {
    if (name == "original" || name == "generated" || name == "ensemble") continue;
    if (g["acc"]["mean"].get<double>() < gen_mean - 0.1) {
      EXPECT_EQ(verdict.find(name), std::string::npos) << name << " is less accurate: " << verdict;
      continue;
    }
    (g["max_sim"]["mean"].get<double>() <= gen_sim ? rivals : beaten).push_back(name);
  }
  if (rivals.empty() && beaten.empty()) {
    EXPECT_CONTAINS(verdict, "No baseline reaches");
  } else if (rivals.empty()) {
    EXPECT_CONTAINS(verdict, "YES");
    for (const auto& b : beaten) EXPECT_CONTAINS(verdict, b);
  } else {
    EXPECT_CONTAINS(verdict, "NO: ");
    EXPECT_EQ(verdict.find("YES"), std::string::npos) << verdict;
    for (const auto& g : rivals) EXPECT_CONTAINS(verdict, g);
  }
}

// Every group has precision, recall, density, coverage and modes in both spaces (recall is
// undefined for the one-model ensemble); the originals, each left out of its own comparison,
// have coverage 1 and density at least 1 (exactly 1 without tied distances); every baseline has
// a dominance result that follows from the two means, and the verdict names it.
void expect_fidelity_and_dominance(const nlohmann::json& report) {
  const auto& groups = report["groups"];
  EXPECT_EQ(report["fidelity"]["k"], 5);
  for (const char* t : {"param_mode_threshold", "pred_mode_threshold"})
    EXPECT_GT(report["fidelity"][t].get<double>(), 0.0) << t;
  for (const auto& [name, g] : groups.items())
    for (const char* space : {"param", "pred"}) {
      const auto& f = g["fidelity"][space];
      for (const char* k : {"precision", "coverage"})
        EXPECT_TRUE(f[k].get<double>() >= 0 && f[k].get<double>() <= 1) << name << space << k;
      EXPECT_GE(f["density"].get<double>(), 0.0) << name << space;
      if (name == "ensemble") EXPECT_TRUE(f["recall"].is_null()) << space << ": recall needs more than k models";
      else EXPECT_TRUE(f["recall"].get<double>() >= 0 && f["recall"].get<double>() <= 1) << name << space;
      EXPECT_GE(f["modes"].get<int64_t>(), 1) << name << space;
      EXPECT_LE(f["modes"].get<int64_t>(), g["n"].get<int64_t>()) << name << space;
    }
  for (const char* space : {"param", "pred"}) {
    EXPECT_EQ(groups["original"]["fidelity"][space]["coverage"], 1.0) << space;
    EXPECT_GE(groups["original"]["fidelity"][space]["density"].get<double>(), 1.0) << space;
    EXPECT_EQ(groups["ensemble"]["fidelity"][space]["modes"], 1) << space;
  }
  const double gen_acc = groups["generated"]["acc"]["mean"], gen_sim = groups["generated"]["max_sim"]["mean"];
  const auto& dominance = report["dominance"]["generated_vs"];
  EXPECT_EQ(dominance.size(), 7u) << "one entry per baseline";
  for (const auto& [name, d] : dominance.items()) {
    const double acc = groups[name]["acc"]["mean"], sim = groups[name]["max_sim"]["mean"];
    const std::string want = gen_acc >= acc && gen_sim <= sim   ? "dominates"
                             : acc >= gen_acc && sim <= gen_sim ? "dominated"
                                                                : "neither";
    EXPECT_EQ(d["result"], want) << name;
    EXPECT_NEAR(d["acc_diff"].get<double>(), gen_acc - acc, 1e-9) << name;
    EXPECT_CONTAINS(report["dominance"]["verdict"].get<std::string>(), name);
  }
}

TEST(RunCli, WholePipelineReportPlotsAndSkipping) {
  std::string dir = test::temp_dir("run"), out;
  ASSERT_EQ(pdiff("run", tiny(dir), &out), 0) << out.substr(out.size() > 3000 ? out.size() - 3000 : 0);
  EXPECT_NE(out.find("| generated |"), std::string::npos) << "summary table in the terminal";

  auto report = nlohmann::json::parse(read_text_file(dir + "/report.json"));
  for (const char* g : {"original", "generated", "ensemble", "noise_std_0.001", "noise_std_0.05", "noise_std_0.15",
                        "noise_raw_0.06", "noise_raw_0.12", "average16", "gaussian"}) {
    ASSERT_TRUE(report["groups"].contains(g)) << g;
    const auto& G = report["groups"][g];
    for (const char* k : {"best", "mean", "median", "min", "std"}) EXPECT_TRUE(G["acc"][k].is_number()) << g << k;
    EXPECT_TRUE(G["max_sim"]["mean"].is_number()) << g;
    EXPECT_TRUE(G["n"].is_number_integer()) << g;
  }
  const auto& groups = report["groups"];
  EXPECT_EQ(groups["original"]["n"], 20);
  EXPECT_EQ(groups["generated"]["n"], 12);
  for (const char* g : {"noise_std_0.001", "noise_std_0.05", "noise_std_0.15", "noise_raw_0.06", "noise_raw_0.12",
                        "average16", "gaussian"})
    EXPECT_EQ(groups[g]["n"], 6) << g << ": eval.baseline_n models";
  // The ensemble is one model: every statistic is its accuracy.
  EXPECT_EQ(groups["ensemble"]["n"], 1);
  EXPECT_EQ(groups["ensemble"]["acc"]["best"], groups["ensemble"]["acc"]["min"]);
  EXPECT_EQ(groups["ensemble"]["acc"]["mean"], groups["ensemble"]["acc"]["min"]);
  // What the groups mean: originals with noise of 0.001 std are copies of originals (their
  // wrong answers are an original's, their nearest original is ~0.001 std away), and more
  // noise moves the models further from the originals.
  auto nn_l2 = [&](const char* g) { return groups[g]["nn_l2"]["median"].get<double>(); };
  EXPECT_GT(groups["noise_std_0.001"]["max_sim"]["mean"].get<double>(), 0.95);
  EXPECT_LT(nn_l2("noise_std_0.001"), 0.05 * nn_l2("original"));
  EXPECT_LT(nn_l2("noise_std_0.001"), nn_l2("noise_std_0.05"));
  EXPECT_LT(nn_l2("noise_std_0.05"), nn_l2("noise_std_0.15"));
  EXPECT_LT(nn_l2("noise_raw_0.06"), nn_l2("noise_raw_0.12"));
  EXPECT_GT(groups["noise_std_0.001"]["max_sim"]["mean"].get<double>(), groups["noise_std_0.15"]["max_sim"]["mean"].get<double>());
  for (const char* g : {"average16", "gaussian"}) EXPECT_GT(nn_l2(g), 0.0) << g << ": not a copy of an original";
  for (const char* k : {"origin_origin", "generated_generated", "origin_generated", "generated_max"})
    EXPECT_TRUE(report["similarity"][k].is_number()) << k;
  expect_fidelity_and_dominance(report);
  for (const char* k : {"collect", "train_ae", "train_ldm", "generate", "eval", "total"})
    EXPECT_TRUE(report["timings_s"][k].is_number()) << k;
  EXPECT_EQ(report["config"]["zoo"]["k"], 20);
  for (const char* png : {"accuracy_vs_similarity.png", "dominance.png", "accuracy_histogram.png",
                          "projection_pca.png", "projection_tsne.png", "training_loss.png", "barrier.png"})
    EXPECT_TRUE(file_exists(dir + "/" + png)) << png;
  // Linear mode connectivity between originals k and k + 10 (a trajectory: one basin).
  const auto& pairs = report["barrier"]["pairs"];
  ASSERT_EQ(pairs.size(), 4u) << report["barrier"].dump();
  EXPECT_EQ(pairs[3]["a"], 3);
  EXPECT_EQ(pairs[3]["b"], 13);
  const Zoo zoo = load_zoo(dir + "/zoo.pt");
  for (const auto& p : pairs) {
    ASSERT_EQ(p["accuracy"].size(), 5u);
    EXPECT_EQ(p["accuracy"][0].get<double>(), zoo.accuracy[p["a"].get<int64_t>()].item<double>());  // the ends' own
    EXPECT_EQ(p["accuracy"][4].get<double>(), zoo.accuracy[p["b"].get<int64_t>()].item<double>());
    EXPECT_GE(p["barrier"].get<double>(), 0.0);
    EXPECT_LT(p["barrier"].get<double>(), 10.0) << "a trajectory's checkpoints sit in one basin";
  }
  std::string md = read_text_file(dir + "/report.md");
  EXPECT_CONTAINS(md, "## Linear mode connectivity");
  const std::string verdict = report["verdict"];
  EXPECT_CONTAINS(md, "## Verdict\n\n" + verdict + "\n\n" + report["dominance"]["verdict"].get<std::string>());
  EXPECT_CONTAINS(md, "## Fidelity and diversity against the originals (k = 5)");
  EXPECT_CONTAINS(md, "| original | 20 | ");
  EXPECT_CONTAINS(md, "## Dominance");
  EXPECT_CONTAINS(md, "| average16 | ");
  EXPECT_CONTAINS(md, "![dominance](dominance.png)");
  expect_verdict_matches_groups(verdict, groups);

  // The report agrees with an independent recomputation in Python.
  ASSERT_EQ(test::run_command(test::python_script_command("check_report.py", dir), &out), 0)
      << out;
  // Every file of the run loads as PyTorch >= 2.6 loads by default (weights_only=True), in 1.13
  // and, where one is set up, in 2.x.
  for (const std::string& python : test::python_interpreters()) {
    ASSERT_EQ(test::run_command(python + " " + test::source_dir() + "/tests/python/check_weights_only.py " + dir +
                                    " --expect base.pt zoo.pt ae.pt ldm.pt generated.pt",
                                &out),
              0)
        << python << ":\n" << out;
  }

  // Same config again: every stage skipped.
  ASSERT_EQ(pdiff("run", tiny(dir), &out), 0) << out;
  for (const char* stage : {"collect: up to date", "train: up to date", "generate: up to date", "eval: up to date"})
    EXPECT_NE(out.find(stage), std::string::npos) << stage << "\n" << out;

  // A generate key changed: collect and train skipped, generate and eval redone.
  ASSERT_EQ(pdiff("run", tiny(dir) + " generate.seed=3", &out), 0) << out;
  EXPECT_NE(out.find("train: up to date"), std::string::npos) << out;
  EXPECT_NE(out.find("generate: running"), std::string::npos) << out;
  EXPECT_NE(out.find("eval: running"), std::string::npos) << out;
}

// generate.recalibrate_bn: the same generated weights, their BatchNorm statistics measured anew
// (and the baselines'), the report says so; PyTorch re-evaluates the recalibrated models.
TEST(RunCli, RecalibratedBatchNormStatistics) {
  const std::string tmp = test::temp_dir("recalibrate"), plain = tmp + "/plain", recal = tmp + "/recal";
  const std::string whole = " zoo.select=whole zoo.optimizer=sgd zoo.lr=0.01 eval.tsne=false ae.steps=20 ldm.steps=20 ae.token_hidden=16"
                            " generate.n=4 eval.baseline_n=2 eval.barrier_pairs=1 zoo.k=6 data.train_limit=500 data.test_limit=100";
  std::string out;
  ASSERT_EQ(pdiff("run", tiny(plain) + whole, &out), 0) << test::tail(out);
  test::run_command("cp -r '" + plain + "' '" + recal + "'");
  ASSERT_EQ(pdiff("run", tiny(recal) + whole + " generate.recalibrate_bn=2", &out), 0) << test::tail(out);
  EXPECT_CONTAINS(out, "== collect: up to date, skipped");
  EXPECT_CONTAINS(out, "== train: up to date, skipped");
  const Generated a = load_generated(plain + "/generated.pt"), b = load_generated(recal + "/generated.pt");
  bool stats_moved = false;
  for (const auto& e : a.layout.entries()) {
    const auto x = a.params.slice(1, e.offset, e.offset + e.numel), y = b.params.slice(1, e.offset, e.offset + e.numel);
    if (e.name.find("running_") == std::string::npos) EXPECT_TRUE(torch::equal(x, y)) << e.name;
    else stats_moved |= !torch::equal(x, y);
  }
  EXPECT_TRUE(stats_moved);
  const auto report = nlohmann::json::parse(read_text_file(recal + "/report.json"));
  EXPECT_EQ(report["recalibrate_bn"], 2);
  EXPECT_NE(report["groups"]["average16"], nlohmann::json::parse(read_text_file(plain + "/report.json"))["groups"]["average16"]);
  EXPECT_CONTAINS(read_text_file(recal + "/report.md"), "were measured anew on 2 training batches of 128");
  ASSERT_EQ(test::run_command(test::python_script_command("check_run.py", recal), &out), 0)
      << out;
  EXPECT_CONTAINS(out, "check_run: OK");
  if (!::testing::Test::HasFailure()) test::run_command("rm -rf '" + tmp + "'");
}

TEST(RunCli, EvalBeforeGenerationAndCorruptFilesAreClearErrors) {
  std::string dir = test::temp_dir("eval_errors"), out;
  ASSERT_EQ(pdiff("collect", tiny(dir), &out), 0) << out;
  EXPECT_NE(pdiff("eval", tiny(dir), &out), 0);
  EXPECT_NE(out.find("generated.pt: not found"), std::string::npos) << out;
  EXPECT_FALSE(file_exists(dir + "/report.json"));

  // A truncated zoo.pt: named, and the other files stay as they were.
  std::string base_before = read_text_file(dir + "/base.pt");
  std::string zoo = read_text_file(dir + "/zoo.pt");
  write_file_atomic(dir + "/zoo.pt", zoo.substr(0, zoo.size() / 2));
  EXPECT_NE(pdiff("train", tiny(dir), &out), 0);
  EXPECT_NE(out.find("zoo.pt"), std::string::npos) << out;
  EXPECT_EQ(out.find("internal error"), std::string::npos) << out;
  EXPECT_EQ(read_text_file(dir + "/base.pt"), base_before);
  // `pdiff run` redoes the broken stage and carries on.
  ASSERT_EQ(pdiff("run", tiny(dir) + " eval.tsne=false", &out), 0) << out;
  EXPECT_TRUE(file_exists(dir + "/report.json"));

  // An ldm.pt of an older format version (an earlier pdiff): `pdiff run` trains it anew.
  {
    DictFile f = DictFile::load_any(dir + "/ldm.pt");
    f.set("version", int64_t{1});
    std::vector<char> bytes = torch::pickle_save(c10::IValue(f.dict()));
    write_file_atomic(dir + "/ldm.pt", std::string(bytes.begin(), bytes.end()));
  }
  ASSERT_EQ(pdiff("run", tiny(dir) + " eval.tsne=false", &out), 0) << out;
  EXPECT_NE(out.find("not reusing " + dir + "/ldm.pt"), std::string::npos) << out;
  EXPECT_NE(out.find("ae: reusing"), std::string::npos) << out;
}

}  // namespace
}  // namespace pdiff::run_cli_test
