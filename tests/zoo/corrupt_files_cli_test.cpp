// Corrupt run-directory files through the real binary: a stage that reads one names the file,
// the tensor and the command that re-creates it; `pdiff collect` trains a corrupt base.pt anew
// instead of refusing forever.
#include <gtest/gtest.h>

#include "io/file_io.h"
#include "io/zip_reader.h"
#include "test_util.h"
#include "zoo/zoo_file.h"

namespace pdiff::corrupt_files_cli_test {
namespace {

std::string tiny(const std::string& run_dir) {
  return " data.train_limit=500 data.test_limit=100 base.epochs=1 zoo.k=3 threads=1 model.arch=mlp"
         " model.mlp_hidden=8 run_dir=" + run_dir;
}

int pdiff(const std::string& command, const std::string& args, std::string* out) {
  return test::run_command("timeout 300 '" + test::pdiff_binary() + "' " + command + args, out);
}

// Changes one byte in the middle of the largest tensor storage of `path`.
void corrupt_largest_tensor(const std::string& path) {
  std::string bytes = read_text_file(path);
  ZipReader zip(bytes, path);
  const ZipEntry* largest = nullptr;
  for (const auto& e : zip.entries())
    if (e.name.find("/data/") != std::string::npos && (!largest || e.size > largest->size)) largest = &e;
  ASSERT_NE(largest, nullptr);
  bytes[largest->data_offset + largest->size / 2] ^= 0x20;
  write_file_atomic(path, bytes);
}

TEST(CorruptFilesCli, NamedByTheStageThatReadsThemAndACorruptBaseIsRetrained) {
  ASSERT_TRUE(file_exists("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"));
  const std::string run = test::temp_dir("corrupt_cli");
  std::string out;
  ASSERT_EQ(pdiff("collect", tiny(run), &out), 0) << out;

  const std::string zoo_before = read_text_file(run + "/zoo.pt");
  corrupt_largest_tensor(run + "/zoo.pt");
  EXPECT_EQ(pdiff("train", tiny(run), &out), 1) << out;
  EXPECT_CONTAINS(out, run + "/zoo.pt: tensor 'params' is corrupt (checksum mismatch); re-create it with `pdiff collect`");
  write_file_atomic(run + "/zoo.pt", zoo_before);

  corrupt_largest_tensor(run + "/base.pt");
  ASSERT_EQ(pdiff("collect", tiny(run), &out), 0) << out;
  EXPECT_CONTAINS(out, "base: not reusing " + run + "/base.pt: " + run + "/base.pt: tensor '");
  EXPECT_CONTAINS(out, "is corrupt (checksum mismatch)");
  // Retrained from the same seed: the same checkpoints as before.
  write_file_atomic(run + "/zoo_before.pt", zoo_before);
  EXPECT_TRUE(torch::equal(load_zoo(run + "/zoo.pt").params, load_zoo(run + "/zoo_before.pt").params));
  if (!::testing::Test::HasFailure()) test::run_command("rm -rf '" + run + "'");
}

}  // namespace
}  // namespace pdiff::corrupt_files_cli_test
