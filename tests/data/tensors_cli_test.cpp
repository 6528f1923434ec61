// End-to-end `pdiff run` with data.name=tensors: a dataset written by Python's torch.save from the
// Fashion-MNIST files (tests/python/own_data.py), as uint8 28x28 images for the MLP and
// ConvNet-4 and as float feature vectors [N, 784] for the MLP; a bad file is refused before
// anything is written.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "io/file_io.h"
#include "gen/generate.h"
#include "test_util.h"
#include "zoo/zoo_file.h"

namespace pdiff::tensors_cli_test {
namespace {

const char* kFashion = "/usr/share/datasets/fashion-mnist";

// Tiny budgets, as tests/run/breadth_cli_test.cpp.
std::string tiny(const std::string& dir) {
  return " run_dir=" + dir +
         " threads=2 base.epochs=2 base.batch=32 zoo.batch=32 zoo.k=4"
         " ae.channels=4,8 ae.latent=8 ae.steps=5 ae.batch=4 ldm.channels=4,8 ldm.steps=5 ldm.batch=4"
         " generate.n=3 generate.steps=3 eval.baseline_n=2 eval.tsne=false";
}

void run_ok(const std::string& args, const std::string& dir, int64_t expected_d, int64_t test_items) {
  SCOPED_TRACE(args);
  std::string out;
  int rc = test::run_command("timeout 600 " + test::pdiff_binary() + " run" + args + tiny(dir), &out);
  ASSERT_EQ(rc, 0) << test::tail(out);
  EXPECT_CONTAINS(out, "data: tensors, 1024 train / 128 test");
  for (const char* f : {"base.pt", "zoo.pt", "ae.pt", "ldm.pt", "generated.pt", "report.json", "report.md"})
    EXPECT_TRUE(file_exists(dir + "/" + f)) << f;
  Zoo zoo = load_zoo(dir + "/zoo.pt");
  EXPECT_EQ(zoo.layout.dim(), expected_d);
  EXPECT_EQ(zoo.predictions.size(1), test_items);
  EXPECT_GT(zoo.base_accuracy, 30.0) << "a base model trained on Fashion-MNIST should beat chance (10 %)";
  Generated g = load_generated(dir + "/generated.pt");
  EXPECT_EQ(g.params.size(0), 3);
  auto report = nlohmann::json::parse(read_text_file(dir + "/report.json"));
  EXPECT_TRUE(report["groups"]["generated"]["acc"]["mean"].is_number());
}

TEST(TensorsCli, RunsMlpAndConvNet4OnImagesAndVectors) {
  ASSERT_TRUE(file_exists(std::string(kFashion) + "/t10k-images-idx3-ubyte.gz")) << kFashion << " is missing";
  const std::string tmp = test::temp_dir("tensors_cli");
  const std::string images = tmp + "/fmnist_u8.pt", vectors = tmp + "/fmnist_vec.pt";
  std::string out;
  ASSERT_EQ(test::run_command(test::own_data_command("dataset '" + images + "' --train 1024 --test 128"), &out), 0) << out;
  ASSERT_EQ(test::run_command(test::own_data_command("dataset '" + vectors + "' --train 1024 --test 128 --flat"), &out), 0) << out;

  run_ok(" data.name=tensors data.file=" + images + " model.arch=mlp", tmp + "/mlp", 128 * 10 + 10, 128);
  {
    // A later command knows its run: `pdiff export run_dir=DIR --index 0` with nothing repeated
    // reads DIR/config.yaml (tensors data, MLP) and writes the right model; PyTorch's
    // evaluation of it gives generate's figure.
    SCOPED_TRACE("export --run");
    const std::string dir = tmp + "/mlp";
    ASSERT_EQ(test::run_command(test::pdiff_binary() + " export -q run_dir=" + dir + " --index 0", &out), 0) << out;
    EXPECT_EQ(out, dir + "/generated_0.pt\n");
    const double pdiff_acc = load_generated(dir + "/generated.pt").accuracy[0].item<double>();
    ASSERT_EQ(test::run_command("PYTHONPATH='" + test::source_dir() + "/tests/python' /usr/bin/python3 -c '"
                                "import torch, pdiff_models\n"
                                "m = pdiff_models.build(\"mlp\", 1, 28, 10)\n"
                                "m.load_state_dict(torch.load(\"" + dir + "/generated_0.pt\", weights_only=True))\n"
                                "d = torch.load(\"" + images + "\", weights_only=True)\n"
                                "x = d[\"test_x\"].float().unsqueeze(1) / 255\n"
                                "m.eval()\n"
                                "print(100.0 * (m(x).argmax(1) == d[\"test_y\"]).double().mean().item())'",
                                &out),
              0)
        << out;
    EXPECT_NEAR(std::stod(out), pdiff_acc, 1e-4) << "PyTorch's accuracy of the export against generate's";
  }
  run_ok(" data.name=tensors data.file=" + images + " model.arch=convnet4 data.augment=flip", tmp + "/convnet4",
         2 * 128 + 2 * 256, 128);
  run_ok(" data.name=tensors data.file=" + vectors + " model.arch=mlp data.normalize=standard", tmp + "/vectors",
         128 * 10 + 10, 128);
  if (!::testing::Test::HasFailure()) test::run_command("rm -rf '" + tmp + "'");
}

TEST(TensorsCli, BadFileRefusedBeforeWriting) {
  const std::string tmp = test::temp_dir("tensors_cli_bad"), bad = tmp + "/bad.pt", run = tmp + "/run";
  std::string out;
  ASSERT_EQ(test::run_command("/usr/bin/python3 -c 'import torch; torch.save({\"train_x\": torch.zeros(10, 8, 8, "
                              "dtype=torch.uint8), \"train_y\": torch.zeros(9).long(), \"test_x\": torch.zeros(4, 8, 8), "
                              "\"test_y\": torch.arange(4)}, \"" + bad + "\")'",
                              &out),
            0)
      << out;
  int rc = test::run_command(test::pdiff_binary() + " run data.name=tensors data.file=" + bad + " run_dir=" + run, &out);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_CONTAINS(out, bad + ": key 'train_y' has 9 labels but 'train_x' has 10 inputs");
  EXPECT_FALSE(file_exists(run)) << run << " was written";
  rc = test::run_command(test::pdiff_binary() + " run data.name=tensors run_dir=" + run, &out);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_CONTAINS(out, "data.file: set it");
  EXPECT_FALSE(file_exists(run)) << run << " was written";
  if (!::testing::Test::HasFailure()) test::run_command("rm -rf '" + tmp + "'");
}

}  // namespace
}  // namespace pdiff::tensors_cli_test
