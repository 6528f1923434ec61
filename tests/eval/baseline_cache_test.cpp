// baselines.pt: a stored result comes back only for the same zoo and the very same parameters;
// anything else (another zoo, other parameters, a corrupt file) is a miss, never an error.
#include <gtest/gtest.h>

#include "io/file_io.h"
#include "eval/baseline_cache.h"
#include "test_util.h"

namespace pdiff::baseline_cache_test {
namespace {

Zoo tiny_zoo() {
  Zoo z;
  z.params = torch::randn({4, 6});
  z.predictions = torch::randint(0, 10, {4, 20}, torch::kUInt8);
  z.fingerprint = "abc";
  return z;
}

TEST(BaselineCache, ReusedOnlyForTheSameZooAndParameters) {
  torch::manual_seed(0);
  const std::string path = test::temp_dir("baseline_cache") + "/baselines.pt";
  const Zoo zoo = tiny_zoo();
  const torch::Tensor params = torch::randn({5, 6});
  EXPECT_FALSE(load_baseline_results(path, zoo, params));  // no file yet
  EvalResult r{torch::randint(0, 10, {5, 20}, torch::kUInt8), torch::rand({5}, torch::kFloat64) * 100};
  save_baseline_results(path, zoo, params, r);

  auto back = load_baseline_results(path, zoo, params.clone());
  ASSERT_TRUE(back);
  EXPECT_TRUE(torch::equal(back->predictions, r.predictions));
  EXPECT_TRUE(torch::equal(back->accuracy, r.accuracy));

  auto changed = params.clone();
  changed[2][3] = std::nextafter(changed[2][3].item<float>(), 1e9f);  // one ulp
  EXPECT_FALSE(load_baseline_results(path, zoo, changed));
  EXPECT_FALSE(load_baseline_results(path, zoo, params.slice(0, 0, 4)));
  Zoo other = zoo;
  other.fingerprint = "abd";
  EXPECT_FALSE(load_baseline_results(path, other, params));
  other = zoo;
  other.predictions = zoo.predictions.clone();
  other.predictions[0][0] = (other.predictions[0][0].item<int>() + 1) % 10;  // another base model
  EXPECT_FALSE(load_baseline_results(path, other, params));

  std::string bytes = read_text_file(path);
  write_file_atomic(path, bytes.substr(0, bytes.size() / 2));
  EXPECT_FALSE(load_baseline_results(path, zoo, params));
}

}  // namespace
}  // namespace pdiff::baseline_cache_test
