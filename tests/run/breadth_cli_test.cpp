// Every architecture on every dataset format, end to end through `pdiff run` with tiny budgets:
// small generated files in the real CIFAR-10, CIFAR-100, STL-10 and MNIST formats, the real
// Fashion-MNIST through the shipped configs, and every zoo mode, optimizer and sampler.
// The cases: model.arch=mlp, model.arch=convnet4, model.arch=resnet18, model.arch=resnet50,
// model.arch=vit_tiny and model.arch=convnext_tiny, each with data.name=cifar10;
// data.name=stl10 with mlp, convnet4 and vit_tiny; data.name=cifar100 and data.name=mnist with
// mlp and convnet4;
// data.name=fashion-mnist through configs/fmnist-*.yaml and the mode tests.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "io/file_io.h"
#include "gen/generate.h"
#include "models/classifier.h"
#include "test_util.h"
#include "zoo/zoo_file.h"

namespace pdiff::breadth_cli_test {
namespace {

// Tiny budgets: 64 training and 32 test images, K = 4, tiny generator (conv or tokens), 3
// generated models, one pair of originals for the report's barrier.
std::string tiny(const std::string& dir) {
  return " run_dir=" + dir +
         " threads=2 data.train_limit=64 data.test_limit=32 base.epochs=1 base.batch=32 zoo.batch=32 zoo.k=4"
         " ae.channels=4,8 ae.latent=8 ae.steps=5 ae.batch=4 ldm.channels=4,8 ldm.steps=5 ldm.batch=4"
         " ae.token_hidden=16 generate.n=3 generate.steps=3 eval.baseline_n=2 eval.tsne=false eval.barrier_pairs=1";
}

// The deep networks (ResNet, ViT, ConvNeXt): as many steps on a quarter of the training images,
// and 8 test images (the Python check runs every model on each, at one thread).
const char* const kDeep = " data.train_limit=16 data.test_limit=8 base.batch=8 zoo.batch=8";
bool is_deep(const std::string& arch) { return arch != "mlp" && arch != "convnet4"; }

// An independent evaluation in PyTorch agrees with each run, model for model, prediction for
// prediction (one Python for all of them).
void python_agrees(const std::vector<std::string>& dirs) {
  std::string cmd = test::python_script_command("check_run.py"), py;
  for (const auto& dir : dirs) cmd += " '" + dir + "'";
  EXPECT_EQ(test::run_command(cmd, &py), 0) << py;
}

// Runs `pdiff run ARGS`, expects success and a complete run directory; returns the zoo. The
// Python check is the caller's (python_agrees), or with `check`, here.
Zoo run_ok(const std::string& args, const std::string& dir, int64_t expected_d, bool check = true) {
  const int64_t n_generated = 3;
  std::string out;
  // A guard against a hang, not a speed target: slow or shared hosts need minutes.
  int rc = test::run_command("timeout 1800 " + test::pdiff_binary() + " run" + args, &out);
  EXPECT_EQ(rc, 0) << test::tail(out);
  if (rc != 0) return {};
  for (const char* f : {"base.pt", "zoo.pt", "ae.pt", "ldm.pt", "generated.pt", "report.json", "report.md"})
    EXPECT_TRUE(file_exists(dir + "/" + f)) << f;
  Zoo zoo = load_zoo(dir + "/zoo.pt");
  EXPECT_EQ(zoo.layout.dim(), expected_d);
  EXPECT_TRUE(torch::isfinite(zoo.params).all().item<bool>());
  Generated g = load_generated(dir + "/generated.pt");
  EXPECT_EQ(g.params.sizes(), (std::vector<int64_t>{n_generated, expected_d}));
  auto report = nlohmann::json::parse(read_text_file(dir + "/report.json"));
  EXPECT_TRUE(report["groups"]["generated"]["acc"]["mean"].is_number());
  if (check) python_agrees({dir});
  return zoo;
}

// D of the default selection (zoo.select=auto) for 10 classes; the MLP's last layer grows
// with the classes.
int64_t default_d(const std::string& arch, int64_t classes) {
  if (arch == "mlp") return 128 * classes + classes;  // fc2 of the default 128-wide MLP
  if (arch == "convnet4") return 2 * 128 + 2 * 256;
  if (arch == "resnet18") return 4 * 512;
  if (arch == "resnet50") return 2 * 512 + 2 * 2048;
  if (arch == "vit_tiny") return 4 * 192;
  return 4 * 768;  // convnext_tiny
}

// A data format and the architectures run on it: the small ones share a test (and its data
// and Python check), each deep one has its own.
struct Case {
  std::string dataset;
  std::vector<std::string> archs;
};
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.dataset << " x";
  for (const auto& a : c.archs) *os << " " << a;
}

class EveryArchEveryFormat : public ::testing::TestWithParam<Case> {};

TEST_P(EveryArchEveryFormat, RunsEndToEnd) {
  const Case& c = GetParam();
  const std::string tmp = test::temp_dir("breadth"), data = tmp + "/data";
  std::string root;
  int64_t classes = 10;
  if (c.dataset == "cifar10") root = test::write_tiny_cifar10(data, 64, 32);
  if (c.dataset == "cifar100") root = test::write_tiny_cifar100(data, 64, 32), classes = 100;
  if (c.dataset == "stl10") root = test::write_tiny_stl10(data, 64, 32);
  if (c.dataset == "mnist") root = test::write_tiny_mnist(data, 64, 32);
  std::vector<std::string> dirs;
  for (const std::string& arch : c.archs) {
    SCOPED_TRACE(arch);
    const std::string dir = tmp + "/" + arch;
    std::string args = tiny(dir) + " model.arch=" + arch + " data.name=" + c.dataset + " data.root=" + root;
    int64_t test_images = 32;
    // STL-10's 96 px are 9x the work of 32 px: its cases get the deep networks' sizes too.
    if (is_deep(arch) || c.dataset == "stl10") {
      args += kDeep;
      test_images = 8;
    }
    if (c.dataset == "stl10" && arch == "vit_tiny") args += " model.vit_patch=12";  // 8x8 tokens
    Zoo zoo = run_ok(args, dir, default_d(arch, classes), /*check=*/false);
    if (zoo.params.defined()) EXPECT_EQ(zoo.predictions.size(1), test_images);
    dirs.push_back(dir);
  }
  python_agrees(dirs);
  if (!::testing::Test::HasFailure()) test::run_command("rm -rf '" + tmp + "'");
}

std::vector<Case> every_case() {
  // Every architecture at 32 px (CIFAR-10); STL-10's format at 96 px with the MLP, ConvNet-4 and
  // ViT (model.vit_patch=12): ResNet-18 and ConvNeXt there (~28 s each) would repeat their
  // CIFAR-10 runs on a reader and a size those three already cover. CIFAR-100's format (two label
  // bytes, 100 classes) with the MLP, whose selected subset is the head (100 classes reach D),
  // and ConvNet-4. The other architectures on CIFAR-100 would repeat their CIFAR-10 runs with a
  // wider head outside the selected subset. MNIST: model.arch=mlp and model.arch=convnet4 (the
  // digits are never flipped: data tests).
  return {{"cifar10", {"mlp", "convnet4"}},  {"cifar10", {"resnet18"}},     {"cifar10", {"resnet50"}},
          {"cifar10", {"vit_tiny"}},         {"cifar10", {"convnext_tiny"}}, {"stl10", {"mlp", "convnet4", "vit_tiny"}},
          {"cifar100", {"mlp", "convnet4"}}, {"mnist", {"mlp", "convnet4"}}};
}

INSTANTIATE_TEST_SUITE_P(Formats, EveryArchEveryFormat, ::testing::ValuesIn(every_case()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           std::string name = info.param.dataset;
                           for (const auto& a : info.param.archs) name += "_" + a;
                           return name;
                         });

// The shipped Fashion-MNIST configs of the paper's settings, with tiny budgets (the two of
// separate trainings, fmnist-*-scratch, run through `pdiff table`: TableCli.RunsTheShippedScratchConfigs).
class ShippedConfig : public ::testing::TestWithParam<std::string> {};

TEST_P(ShippedConfig, RunsEndToEnd) {
  const std::string name = GetParam(), dir = test::temp_dir("config_" + name);
  const std::string cfg = test::source_dir() + "/configs/" + name + ".yaml";
  Config c = Config::load(cfg);
  const std::string arch = c.s("model.arch");
  int64_t d = arch == "mlp" ? 128 * 10 + 10 : default_d(arch, 10);  // fmnist-mlp: 256-128-10
  if (c.s("zoo.select") == "all") {  // the fmnist-*-whole configs: every weight and bias
    ClassifierSpec spec;
    spec.arch = arch;
    spec.mlp_hidden = c.ilist("model.mlp_hidden");
    Classifier model = make_classifier(spec);  // Fashion-MNIST: the spec's defaults
    d = ParamLayout::of(model, select_parameters(model, "all")).dim();
  }
  run_ok(" --config " + cfg + tiny(dir) + (is_deep(arch) ? kDeep : ""), dir, d);
}

INSTANTIATE_TEST_SUITE_P(Configs, ShippedConfig,
                         ::testing::Values("fmnist-mlp", "fmnist-mlp-whole", "fmnist-convnet4-whole", "fmnist-resnet18",
                                           "fmnist-resnet18-whole", "fmnist-vit_tiny", "fmnist-convnext_tiny"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string n = info.param;
                           for (auto& ch : n)
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

TEST(PythonReaders, SelfTest) {
  std::string out;
  EXPECT_EQ(test::run_command(test::python_script_command("test_pdiff_data.py"), &out), 0)
      << out;
}

// Every zoo mode, both optimizers of base and zoo, both samplers, and whole-network selection
// (iteration mode over a whole ConvNet-4 runs as Configs/fmnist_convnet4_whole).
TEST(EveryMode, EpochModeSgdZooAdamwBaseDdpm) {
  const std::string dir = test::temp_dir("epoch_mode");
  Zoo zoo = run_ok(tiny(dir) + " data.name=fashion-mnist zoo.mode=epoch zoo.optimizer=sgd zoo.lr=0.01"
                   " base.optimizer=adamw base.lr=1e-3 generate.sampler=ddpm ldm.timesteps=100",
                   dir, 768);
  // One checkpoint per epoch of 2 steps: consecutive checkpoints differ.
  if (zoo.params.defined()) EXPECT_FALSE(torch::equal(zoo.params[0], zoo.params[1]));
  Generated g = load_generated(dir + "/generated.pt");
  EXPECT_TRUE(torch::isfinite(g.params).all().item<bool>());
}

TEST(EveryMode, SeedsModeWholeMlp) {
  const std::string dir = test::temp_dir("seeds_all");
  // zoo.select=all on the MLP: every weight (784*128 + 128 + 128*10 + 10).
  Zoo zoo = run_ok(tiny(dir) + " data.name=fashion-mnist model.arch=mlp zoo.select=all zoo.mode=seeds"
                   " zoo.run_iters=2 zoo.lr=1e-3",
                   dir, 784 * 128 + 128 + 128 * 10 + 10);
  if (zoo.params.defined()) EXPECT_FALSE(torch::equal(zoo.params[0], zoo.params[1]));
}

}  // namespace
}  // namespace pdiff::breadth_cli_test
