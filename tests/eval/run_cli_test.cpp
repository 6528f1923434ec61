// End-to-end tests of `pdiff run` and `pdiff eval` on a tiny slice of real Fashion-MNIST.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/file_io.h"
#include "test_util.h"

namespace pdiff {
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
  EXPECT_EQ(report["groups"]["original"]["n"], 20);
  EXPECT_EQ(report["groups"]["generated"]["n"], 12);
  EXPECT_EQ(report["groups"]["gaussian"]["n"], 6);
  EXPECT_EQ(report["groups"]["ensemble"]["n"], 1);
  for (const char* k : {"origin_origin", "generated_generated", "origin_generated", "generated_max"})
    EXPECT_TRUE(report["similarity"][k].is_number()) << k;
  for (const char* k : {"collect", "train_ae", "train_ldm", "generate", "eval", "total"})
    EXPECT_TRUE(report["timings_s"][k].is_number()) << k;
  EXPECT_EQ(report["config"]["zoo"]["k"], 20);
  for (const char* png : {"accuracy_vs_similarity.png", "accuracy_histogram.png", "projection_pca.png",
                          "projection_tsne.png", "training_loss.png"})
    EXPECT_TRUE(file_exists(dir + "/" + png)) << png;
  std::string md = read_text_file(dir + "/report.md");
  EXPECT_NE(md.find("## Verdict"), std::string::npos);

  // The report agrees with an independent recomputation in Python.
  ASSERT_EQ(test::run_command("/usr/bin/python3 " + test::source_dir() + "/tests/python/check_report.py " + dir, &out), 0)
      << out;

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
}  // namespace pdiff
