// End-to-end model.arch=torchscript: modules unlike the built-ins, scripted or traced by Python
// (tests/python/own_data.py: LeNet-5 with BatchNorm, a small CNN with GroupNorm and LayerNorm)
// go through `pdiff run` / `pdiff collect`; Python loads pdiff's base.pt and an exported
// generated model into the module, and loads the exported module itself, and gets pdiff's
// accuracies; bad modules are refused with
// the shapes, before anything is written.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "io/file_io.h"
#include "gen/generate.h"
#include "test_util.h"
#include "zoo/zoo_file.h"

namespace pdiff::torchscript_cli_test {
namespace {

std::string tiny(const std::string& dir) {
  return " run_dir=" + dir +
         " threads=2 base.epochs=1 base.batch=32 zoo.batch=32 zoo.k=4"
         " ae.channels=4,8 ae.latent=8 ae.steps=5 ae.batch=4 ldm.channels=4,8 ldm.steps=5 ldm.batch=4"
         " generate.n=3 generate.steps=3 eval.baseline_n=2 eval.tsne=false";
}

// Python's accuracies of modules with state dicts ({module, state} pairs; see own_data.py eval),
// in one Python run.
std::vector<double> python_accuracies(const std::vector<std::pair<std::string, std::string>>& pairs,
                                      const std::string& extra) {
  std::string args, out;
  for (const auto& [module, state] : pairs) args += " '" + module + "' '" + state + "'";
  EXPECT_EQ(test::run_command(test::own_data_command("eval" + args + " " + extra), &out), 0) << out;
  std::vector<double> accuracies;
  for (size_t at = out.find("accuracy "); at != std::string::npos; at = out.find("accuracy ", at + 1))
    accuracies.push_back(std::stod(out.substr(at + 9)));
  EXPECT_EQ(accuracies.size(), pairs.size()) << out;
  accuracies.resize(pairs.size(), -1);
  return accuracies;
}

TEST(TorchScriptCli, LeNetWithBatchNormRunsAndPythonAgrees) {
  const std::string tmp = test::temp_dir("torchscript"), module = tmp + "/lenet.pt", run = tmp + "/run";
  std::string out;
  ASSERT_EQ(test::run_command(test::own_data_command("script '" + module + "' --model lenet_bn"), &out), 0) << out;
  int rc = test::run_command("timeout 600 " + test::pdiff_binary() + " run model.arch=torchscript model.file=" + module +
                                 " data.train_limit=512 data.test_limit=256" + tiny(run),
                             &out);
  ASSERT_EQ(rc, 0) << test::tail(out);
  // zoo.select=auto is last_norm:2: the BatchNorm2d in features.5 and bn3 (BatchNorm1d).
  Zoo zoo = load_zoo(run + "/zoo.pt");
  EXPECT_EQ(zoo.arch, "torchscript");
  EXPECT_EQ(zoo.layout.names(), (std::vector<std::string>{"features.5.weight", "features.5.bias", "bn3.weight", "bn3.bias"}));
  EXPECT_EQ(zoo.layout.dim(), 2 * 16 + 2 * 120);
  EXPECT_GT(zoo.base_accuracy, 30.0);
  EXPECT_GT((zoo.params[1] - zoo.params[0]).abs().max().item<double>(), 0.0);
  // An exported generated model.
  rc = test::run_command(test::pdiff_binary() + " export --index 1" + tiny(run) +
                             " model.arch=torchscript model.file=" + module + " data.train_limit=512 data.test_limit=256",
                         &out);
  ASSERT_EQ(rc, 0) << test::tail(out);
  EXPECT_CONTAINS(out, "as a TorchScript module to " + run + "/generated_1.script.pt");
  EXPECT_FALSE(file_exists(run + "/generated_1.script.pt.tmp"));
  // Python evaluates, in the same module, pdiff's base.pt and the exported state dict, and the
  // exported module itself (the generated weights inside, in eval mode): the same accuracies.
  const auto info = nlohmann::json::parse(read_text_file(run + "/base.json"));
  const Generated g = load_generated(run + "/generated.pt");
  const auto py = python_accuracies(
      {{module, run + "/base.pt"}, {module, run + "/generated_1.pt"}, {run + "/generated_1.script.pt", "-"}}, "--test 256");
  EXPECT_NEAR(py[0], info["test_accuracy"].get<double>(), 0.05);
  EXPECT_NEAR(py[1], g.accuracy[1].item<double>(), 0.05);
  EXPECT_NEAR(py[2], g.accuracy[1].item<double>(), 0.05);
  // The independent re-evaluation of a whole run dir knows TorchScript runs.
  ASSERT_EQ(test::run_command(test::python_script_command("check_run.py", run), &out), 0)
      << out;
  EXPECT_CONTAINS(out, "check_run: OK");
  if (!::testing::Test::HasFailure()) test::run_command("rm -rf '" + tmp + "'");
}

TEST(TorchScriptCli, TracedGroupNormModelOnTensorsData) {
  const std::string tmp = test::temp_dir("torchscript_gn"), module = tmp + "/gn.pt", data = tmp + "/data.pt",
                    run = tmp + "/run";
  std::string out;
  ASSERT_EQ(test::run_command(test::own_data_command("script '" + module + "' --model lenet_gn --trace"), &out), 0) << out;
  ASSERT_EQ(test::run_command(test::own_data_command("dataset '" + data + "' --train 256 --test 128"), &out), 0) << out;
  int rc = test::run_command("timeout 300 " + test::pdiff_binary() + " run model.arch=torchscript model.file=" +
                                 module + " data.name=tensors data.file=" + data +
                                 " data.normalize=standard zoo.select=last_norm:2" + tiny(run),
                             &out);
  ASSERT_EQ(rc, 0) << test::tail(out);
  Zoo zoo = load_zoo(run + "/zoo.pt");
  EXPECT_EQ(zoo.layout.names(), (std::vector<std::string>{"gn2.weight", "gn2.bias", "ln.weight", "ln.bias"}));
  EXPECT_EQ(zoo.predictions.size(1), 128);
  EXPECT_TRUE(file_exists(run + "/base.json"));  // check_run.py re-evaluates the base from it
  // check_run.py prepares the tensors file as pdiff does (standardised here) and agrees.
  ASSERT_EQ(test::run_command(test::python_script_command("check_run.py", run), &out), 0)
      << out;
  EXPECT_CONTAINS(out, "check_run: OK");
  // Name patterns select too.
  rc = test::run_command("timeout 300 " + test::pdiff_binary() + " collect model.arch=torchscript model.file=" + module +
                             " data.name=tensors data.file=" + data + " zoo.select=head" + tiny(tmp + "/run2"),
                         &out);
  ASSERT_EQ(rc, 0) << test::tail(out);
  EXPECT_EQ(load_zoo(tmp + "/run2/zoo.pt").layout.dim(), 32 * 10 + 10);
  if (!::testing::Test::HasFailure()) test::run_command("rm -rf '" + tmp + "'");
}

// base.file for a TorchScript model: the module file holds untrained weights, the state dict
// trained in Python replaces base training; pdiff's base accuracy equals Python's.
TEST(TorchScriptCli, StartsFromWeightsTrainedInPython) {
  const std::string tmp = test::temp_dir("torchscript_base"), module = tmp + "/lenet.pt", state = tmp + "/w.pt",
                    run = tmp + "/run";
  std::string out;
  ASSERT_EQ(test::run_command(test::own_data_command("script '" + module + "' --state '" + state + "' --test 500"), &out), 0) << out;
  const size_t at = out.rfind("accuracy ");
  ASSERT_NE(at, std::string::npos) << out;
  const double py_acc = std::stod(out.substr(at + 9));
  int rc = test::run_command("timeout 300 " + test::pdiff_binary() + " collect model.arch=torchscript model.file=" +
                                 module + " base.file=" + state +
                                 " data.train_limit=2000 data.test_limit=500 zoo.k=3 threads=2 run_dir=" + run,
                             &out);
  ASSERT_EQ(rc, 0) << test::tail(out);
  EXPECT_CONTAINS(out, "base: read " + state);
  auto info = nlohmann::json::parse(read_text_file(run + "/base.json"));
  EXPECT_NEAR(info["test_accuracy"].get<double>(), py_acc, 0.05);
  EXPECT_GT(py_acc, 30.0);
  if (!::testing::Test::HasFailure()) test::run_command("rm -rf '" + tmp + "'");
}

TEST(TorchScriptCli, BadModulesRefusedWithTheShapes) {
  const std::string tmp = test::temp_dir("torchscript_bad");
  std::string out;
  for (const char* m : {"wide_out", "rgb_only"})
    ASSERT_EQ(test::run_command(test::own_data_command("script '" + tmp + "/" + m + ".pt' --model " + m), &out), 0) << out;
  write_file_atomic(tmp + "/text.pt", "not a module\n");
  auto refused = [&](const std::string& args, const std::string& expect) {
    const std::string run = tmp + "/run";
    int rc = test::run_command(test::pdiff_binary() + " collect data.train_limit=64 data.test_limit=32 run_dir=" + run +
                                   " model.arch=torchscript " + args,
                               &out);
    EXPECT_EQ(rc, 1) << test::tail(out);
    EXPECT_CONTAINS(out, expect);
    EXPECT_FALSE(file_exists(run)) << run << " was written";
  };
  refused("model.file=" + tmp + "/wide_out.pt",
          "model.file = " + tmp + "/wide_out.pt: forward on an input of shape [2, 1, 28, 28] returned shape [2, 84]; "
          "a classifier must return logits [batch, classes] = [2, 10]");
  refused("model.file=" + tmp + "/rgb_only.pt",
          "model.file = " + tmp + "/rgb_only.pt: forward failed on an input of shape [2, 1, 28, 28] (the data's "
          "shape): RuntimeError: ");  // the cause, not the interpreter's opening line
  refused("model.file=" + tmp + "/text.pt", "model.file = " + tmp + "/text.pt: not a TorchScript module");
  refused("model.file=" + tmp + "/absent.pt", "model.file = " + tmp + "/absent.pt: file not found");
  refused("", "model.file: set it");
  refused("model.file=" + tmp + "/wide_out.pt model.arch=mlp", "model.file is read only with model.arch=torchscript");
  if (!::testing::Test::HasFailure()) test::run_command("rm -rf '" + tmp + "'");
}

}  // namespace
}  // namespace pdiff::torchscript_cli_test
