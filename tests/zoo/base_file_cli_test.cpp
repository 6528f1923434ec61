// End-to-end `pdiff collect` with base.file: weights trained and saved in Python
// (tests/python/own_data.py, with tests/python/pdiff_models.py's definitions) replace base
// training; the base accuracy pdiff measures equals Python's within 0.05 points; Lightning- and
// timm-style checkpoints load with their prefix stripped; a missing, extra or other-shaped
// tensor is refused naming it and the file, before anything is written.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "io/file_io.h"
#include "test_util.h"
#include "zoo/zoo_file.h"

namespace pdiff::base_file_cli_test {
namespace {

const char* kFashion = "/usr/share/datasets/fashion-mnist";

// Trains ARCH in Python and saves it in `style`; returns Python's test accuracy (percent).
double python_base(const std::string& arch, const std::string& path, const std::string& style) {
  std::string out;
  EXPECT_EQ(test::run_command(test::own_data_command("base " + arch + " '" + path + "' --style " + style + " --test 500"), &out), 0)
      << out;
  const size_t at = out.rfind("accuracy ");
  EXPECT_NE(at, std::string::npos) << out;
  return at == std::string::npos ? -1 : std::stod(out.substr(at + 9));
}

int collect(const std::string& args, std::string* out) {
  return test::run_command("timeout 300 " + test::pdiff_binary() + " collect data.train_limit=2000 data.test_limit=500 "
                           "zoo.k=4 zoo.batch=64 threads=2 " + args, out);
}

struct Case {
  std::string arch, style;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.arch << " saved " << c.style; }

class BaseFileCli : public ::testing::TestWithParam<Case> {};

TEST_P(BaseFileCli, CollectsFromPythonWeightsWithPythonsAccuracy) {
  ASSERT_TRUE(file_exists(std::string(kFashion) + "/t10k-images-idx3-ubyte.gz")) << kFashion << " is missing";
  const Case& c = GetParam();
  const std::string tmp = test::temp_dir("base_file"), weights = tmp + "/weights.pt", run = tmp + "/run";
  const double py_acc = python_base(c.arch, weights, c.style);
  std::string out;
  int rc = collect("model.arch=" + c.arch + " base.file=" + weights + " run_dir=" + run, &out);
  ASSERT_EQ(rc, 0) << test::tail(out);
  EXPECT_CONTAINS(out, "base: read " + weights);
  EXPECT_EQ(out.find("base: test accuracy"), std::string::npos) << "base training ran:\n" << test::tail(out);
  auto info = nlohmann::json::parse(read_text_file(run + "/base.json"));
  EXPECT_EQ(info["train_seconds"].get<double>(), 0.0);
  EXPECT_EQ(info["source"], weights);
  const double acc = info["test_accuracy"].get<double>();
  EXPECT_NEAR(acc, py_acc, 0.05) << "pdiff's base accuracy differs from Python's";
  EXPECT_GT(acc, 30.0) << "the Python model was trained";
  Zoo zoo = load_zoo(run + "/zoo.pt");
  EXPECT_NEAR(zoo.base_accuracy, py_acc, 0.05);
  EXPECT_EQ(zoo.params.size(0), 4);
  // base.pt holds the file's tensors.
  DictFile base = DictFile::load_any(run + "/base.pt");
  DictFile file = DictFile::load_any(weights);
  const std::string fc = c.arch == "mlp" ? "fc2.weight" : "fc.weight";
  torch::Tensor from_file = c.style == "lightning"   ? DictFile(file.dict().at("state_dict").toGenericDict(), weights).tensor("model." + fc)
                            : c.style == "timm"      ? DictFile(file.dict().at("model").toGenericDict(), weights).tensor(fc)
                                                     : file.tensor(fc);
  EXPECT_TRUE(torch::equal(base.tensor(fc), from_file));
  if (!::testing::Test::HasFailure()) test::run_command("rm -rf '" + tmp + "'");
}

INSTANTIATE_TEST_SUITE_P(Styles, BaseFileCli,
                         ::testing::Values(Case{"mlp", "plain"}, Case{"convnet4", "lightning"}, Case{"convnet4", "timm"}),
                         [](const auto& info) { return info.param.arch + "_" + info.param.style; });

// Each bad file: exit 1, a message naming the file and `expect`, nothing written.
void expect_refused(const std::string& args, const std::string& run, const std::string& path,
                    const std::string& expect) {
  std::string out;
  int rc = collect(args + " run_dir=" + run, &out);
  EXPECT_EQ(rc, 1) << test::tail(out);
  EXPECT_CONTAINS(out, "base.file = " + path);
  EXPECT_CONTAINS(out, expect);
  EXPECT_FALSE(file_exists(run)) << run << " was written";
}

// One MLP trained in Python, saved as torch.save(model.state_dict()) writes it (an OrderedDict);
// the bad files are made from it in one Python run, as plain dicts.
TEST(BaseFileCliBad, MissingExtraAndMisshapenTensorsRefused) {
  const std::string tmp = test::temp_dir("base_file_bad"), ordered = tmp + "/ordered.pt", mlp = tmp + "/mlp.pt";
  const double py_acc = python_base("mlp", ordered, "ordered");
  const std::string missing = tmp + "/missing.pt", extra = tmp + "/extra.pt", nan = tmp + "/nan.pt";
  std::string out;
  const std::string py =
      "import sys, torch\n"
      "def save(edit, path):\n"
      "    sd = dict(torch.load(sys.argv[1])); edit(sd); torch.save(sd, path)\n"
      "save(lambda sd: None, sys.argv[2])\n"
      "save(lambda sd: sd.pop('fc2.bias'), sys.argv[3])\n"
      "save(lambda sd: sd.update({'fc3.weight': torch.zeros(2, 2)}), sys.argv[4])\n"
      "save(lambda sd: sd['fc1.bias'].__setitem__(3, float('nan')), sys.argv[5])\n";
  write_file_atomic(tmp + "/edit.py", py);
  ASSERT_EQ(test::run_command("/usr/bin/python3 '" + tmp + "/edit.py' '" + ordered + "' '" + mlp + "' '" + missing +
                                  "' '" + extra + "' '" + nan + "'",
                              &out),
            0)
      << out;
  expect_refused("model.arch=mlp base.file=" + missing, tmp + "/r1", missing, "missing tensor 'fc2.bias'");
  expect_refused("model.arch=mlp base.file=" + extra, tmp + "/r2", extra, "tensor 'fc3.weight' is not part of this model");
  expect_refused("model.arch=mlp model.mlp_hidden=64 base.file=" + mlp, tmp + "/r3", mlp,
                 "tensor 'fc1.weight' has shape [128, 784], the model expects [64, 784]");
  expect_refused("model.arch=mlp base.file=" + nan, tmp + "/r4", nan, "tensor 'fc1.bias' holds a non-finite value");
  expect_refused("model.arch=convnet4 base.file=" + mlp, tmp + "/r5", mlp, "missing tensor 'conv1.weight'");
  const std::string absent = tmp + "/absent.pt";
  EXPECT_EQ(collect("base.file=" + absent + " run_dir=" + tmp + "/r6", &out), 1);
  EXPECT_CONTAINS(out, absent + ": file not found");

  // The OrderedDict itself, which LibTorch 1.13's own reader cannot read: either it loads (a
  // reader that knows OrderedDict), or the message says what to do.
  const std::string run = tmp + "/run";
  const int rc = collect("model.arch=mlp base.file=" + ordered + " run_dir=" + run, &out);
  if (rc == 0) {
    auto info = nlohmann::json::parse(read_text_file(run + "/base.json"));
    EXPECT_NEAR(info["test_accuracy"].get<double>(), py_acc, 0.05);
  } else {
    EXPECT_EQ(rc, 1) << test::tail(out);
    EXPECT_CONTAINS(out, "torch.save(dict(model.state_dict()), PATH)");
    EXPECT_FALSE(file_exists(run)) << run << " was written";
  }
  if (!::testing::Test::HasFailure()) test::run_command("rm -rf '" + tmp + "'");
}

}  // namespace
}  // namespace pdiff::base_file_cli_test
