// The library without a config (docs/design.md, "Stages say what they need"): the stages
// driven from C++ with options structs only, on a tiny slice of Fashion-MNIST.
#include <gtest/gtest.h>

#include "gen/generate.h"
#include "gen/train.h"
#include "io/file_io.h"
#include "test_util.h"
#include "zoo/collect.h"
#include "zoo/zoo_file.h"

namespace pdiff::library_api_test {
namespace {

TEST(LibraryApi, StagesRunFromOptionsStructsWithoutAConfig) {
  RunContext run;
  run.dir = test::temp_dir("library_api");
  CollectOptions collect_opts;
  collect_opts.data.train_limit = 1000;
  collect_opts.data.test_limit = 200;
  collect_opts.base.epochs = 2;
  collect_opts.zoo.k = 10;
  collect_opts.fingerprint = "api-v1";
  collect(run, collect_opts);
  Zoo zoo = load_zoo(run.dir + "/zoo.pt");
  EXPECT_EQ(zoo.params.size(0), 10);
  EXPECT_EQ(zoo.fingerprint, "api-v1");
  EXPECT_GT(zoo.accuracy.mean().item<double>(), 30.0);

  TrainOptions train_opts;
  train_opts.zoo_fingerprint = collect_opts.fingerprint;
  train_opts.ae.steps = train_opts.ldm.steps = 20;
  train_opts.ae.fingerprint = "ae-v1";
  train_opts.ldm.fingerprint = "ldm-v1";
  train(run, train_opts);
  GenerateOptions generate_opts;
  generate_opts.data = collect_opts.data;
  generate_opts.n = 4;
  generate_opts.sampling.steps = 5;
  generate(run, generate_opts);
  Generated g = load_generated(run.dir + "/generated.pt");
  EXPECT_EQ(g.params.size(0), 4);
  EXPECT_TRUE(torch::isfinite(g.params).all().item<bool>());

  // A zoo.pt of other options is refused by name.
  train_opts.zoo_fingerprint = "other";
  EXPECT_CONTAINS(test::error_of([&] { train(run, train_opts); }), "was collected with a different config");
}

}  // namespace
}  // namespace pdiff::library_api_test
