// Files written as their rows are made (io/rows_writer.h: the zoo as it is collected) and the
// files under them: the zip writer
// (io/zip_writer.h), `.pt` files written straight to disk (io/pt_writer.h) and large tensors
// read through the page cache (io/mapped_file.h).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "io/file_io.h"
#include "io/mapped_file.h"
#include "io/pt_reader.h"
#include "io/pt_writer.h"
#include "io/zip_reader.h"
#include "models/classifier.h"
#include "test_util.h"
#include "io/rows_writer.h"
#include "zoo/zoo_file.h"

namespace pdiff::rows_writer_test {
namespace {

int64_t file_size(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  return in.good() ? static_cast<int64_t>(in.tellg()) : -1;
}

// A zoo of k random checkpoints of ConvNet-4's last two BatchNorms (D = 768).
Zoo small_zoo(int64_t k) {
  ClassifierSpec spec;
  spec.arch = "convnet4";
  Zoo z;
  z.layout = ParamLayout::of(make_classifier(spec), select_parameters(make_classifier(spec), "last_norm:2"));
  z.params = torch::randn({k, z.layout.dim()});
  z.accuracy = torch::rand({k}) * 100;
  z.predictions = torch::randint(0, 10, {k, 7}, torch::kUInt8);
  z.arch = "convnet4";
  z.config_yaml = "seed: 0\n";
  z.fingerprint = "f";
  z.base_accuracy = 50;
  z.collect_seconds = 1.5;
  return z;
}

void expect_same_zoo(const Zoo& a, const Zoo& b) {
  EXPECT_TRUE(torch::equal(a.params, b.params));
  EXPECT_TRUE(torch::equal(a.accuracy, b.accuracy));
  EXPECT_TRUE(torch::equal(a.predictions, b.predictions));
  EXPECT_EQ(a.layout.names(), b.layout.names());
  EXPECT_EQ(a.arch, b.arch);
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  EXPECT_EQ(a.base_accuracy, b.base_accuracy);
}

TEST(RowsWriter, AppendsRowsWithoutRewritingAndWritesTheZooPythonReads) {
  torch::manual_seed(0);
  const std::string dir = test::temp_dir("zoo_writer");
  const Zoo zoo = small_zoo(5);
  const int64_t d = zoo.layout.dim();
  RowsWriter w(dir + "/zoo.pt.partial", 5, d);
  const int64_t header = file_size(dir + "/zoo.pt.partial");
  EXPECT_EQ(header % 64, 0) << "row data starts 64-byte aligned, as torch.save aligns it";
  std::string before;
  for (int64_t k = 0; k < 5; ++k) {
    w.append(zoo.params[k]);
    // Each checkpoint adds exactly its own bytes; what was written before stays as it was.
    EXPECT_EQ(file_size(dir + "/zoo.pt.partial"), header + (k + 1) * d * 4);
    const std::string now = read_text_file(dir + "/zoo.pt.partial");
    EXPECT_EQ(now.compare(0, before.size(), before), 0) << "bytes before checkpoint " << k << " changed";
    before = now;
    EXPECT_TRUE(torch::equal(w.written(), zoo.params.slice(0, 0, k + 1)));
  }
  EXPECT_THROW(w.append(zoo.params[0]), Error);  // more than declared
  finish_zoo(w, zoo, dir + "/zoo.pt");
  EXPECT_FALSE(file_exists(dir + "/zoo.pt.partial"));
  expect_same_zoo(load_zoo(dir + "/zoo.pt"), zoo);

  // Python's torch.load reads it like any torch.save file.
  std::string out;
  const std::string py =
      "import torch, sys; z = torch.load(sys.argv[1]); p = z['params']; "
      "print(z['format'], z['version'], tuple(p.shape), z['names'][0], '%.6f' % p.double().abs().sum().item())";
  ASSERT_EQ(test::run_command("/usr/bin/python3 -c \"" + py + "\" '" + dir + "/zoo.pt'", &out), 0) << out;
  char sum[64];
  std::snprintf(sum, sizeof sum, "%.6f", zoo.params.to(torch::kFloat64).abs().sum().item<double>());
  EXPECT_CONTAINS(out, "pdiff.zoo 1 (5, 768) bn3.weight " + std::string(sum));
  test::run_command("rm -rf '" + dir + "'");
}

TEST(RowsWriter, ReopeningKeepsTheCountedRowsAndCutsTheRest) {
  torch::manual_seed(1);
  const std::string dir = test::temp_dir("zoo_writer_reopen");
  const Zoo zoo = small_zoo(6);
  const int64_t d = zoo.layout.dim();
  {
    RowsWriter w(dir + "/p", 6, d);
    for (int64_t k = 0; k < 4; ++k) w.append(k < 3 ? zoo.params[k] : torch::zeros({d}));  // row 3: not counted
  }  // a collection killed here had counted 3 rows in its resume state
  RowsWriter w(dir + "/p", 6, d, /*keep=*/3);
  EXPECT_EQ(w.rows(), 3);
  EXPECT_TRUE(torch::equal(w.written(), zoo.params.slice(0, 0, 3)));
  for (int64_t k = 3; k < 6; ++k) w.append(zoo.params[k]);
  finish_zoo(w, zoo, dir + "/zoo.pt");
  expect_same_zoo(load_zoo(dir + "/zoo.pt"), zoo);

  // A file that is not the zoo being collected, or shorter than its resume state says, is named.
  write_file_atomic(dir + "/other", std::string(1000, 'x'));
  EXPECT_CONTAINS(test::error_of([&] { RowsWriter(dir + "/other", 6, d, 2); }), dir + "/other");
  {
    RowsWriter short_one(dir + "/short", 6, d);
    short_one.append(zoo.params[0]);
  }
  EXPECT_CONTAINS(test::error_of([&] { RowsWriter(dir + "/short", 6, d, 2); }), "fewer bytes than its resume state");
  EXPECT_CONTAINS(test::error_of([&] { RowsWriter(dir + "/short", 7, d, 1); }), "delete it to start over");
  test::run_command("rm -rf '" + dir + "'");
}

TEST(PtWriter, FilesMatchWhatLibTorchWrites) {
  // The same dict through torch::pickle_save and through write_pt reads back the same.
  const std::string dir = test::temp_dir("pt_writer");
  c10::impl::GenericDict dict(c10::StringType::get(), c10::AnyType::get());
  dict.insert("w", torch::arange(12, torch::kFloat32).view({3, 4}));
  dict.insert("v", torch::arange(12, torch::kFloat32).view({3, 4}).slice(1, 1, 3));  // a view of another storage
  dict.insert("n", int64_t(7));
  dict.insert("s", std::string("text"));
  save_pt_atomic(dir + "/a.pt", c10::IValue(dict));
  EXPECT_FALSE(file_exists(dir + "/a.pt.tmp"));
  c10::IValue ours = read_pt(dir + "/a.pt", "");
  c10::IValue theirs = torch::pickle_load(torch::pickle_save(c10::IValue(dict)));
  for (const char* key : {"w", "v"})
    EXPECT_TRUE(torch::equal(ours.toGenericDict().at(key).toTensor(), theirs.toGenericDict().at(key).toTensor()))
        << key;
  EXPECT_EQ(ours.toGenericDict().at("n").toInt(), 7);
  EXPECT_EQ(ours.toGenericDict().at("s").toStringRef(), "text");
  // LibTorch's own reader takes it too.
  const std::string bytes = read_text_file(dir + "/a.pt");
  c10::IValue libtorch = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
  EXPECT_TRUE(torch::equal(libtorch.toGenericDict().at("v").toTensor(), theirs.toGenericDict().at("v").toTensor()));
  // Every entry's data is 64-byte aligned.
  ZipReader zip(bytes, "a.pt");
  for (const auto& e : zip.entries()) EXPECT_EQ(e.data_offset % 64, 0) << e.name;
  test::run_command("rm -rf '" + dir + "'");
}

int64_t resident_bytes() {
  std::ifstream in("/proc/self/statm");
  int64_t pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * ::sysconf(_SC_PAGESIZE);
}

TEST(MappedFile, LargeTensorsAreReadFromDiskAndTheirPagesReleased) {
  const std::string dir = test::temp_dir("mapped");
  const int64_t rows = 40, cols = 1 << 19;  // 80 MB: above the size read through the page cache
  auto params = torch::arange(rows * cols, torch::kFloat32).view({rows, cols}) / (rows * cols);
  DictFile f;
  f.set_tensor("params", params);
  f.set_tensor("small", torch::ones({3}));
  f.save(dir + "/big.pt", "test", 1);
  params = torch::Tensor();

  DictFile loaded = DictFile::load(dir + "/big.pt", "test", 1, "");
  const torch::Tensor p = loaded.tensor("params");
  EXPECT_TRUE(is_mapped(p));
  EXPECT_FALSE(is_mapped(loaded.tensor("small")));
  const int64_t before = resident_bytes();
  const double sum = p.sum().item<double>();  // reads every page
  const int64_t touched = resident_bytes();
  EXPECT_GT(touched - before, 60 << 20) << "reading the tensor should bring its pages in";
  for (int64_t r = 0; r < rows; ++r) release_pages(p[r]);
  const int64_t released = resident_bytes();
  EXPECT_LT(released - before, 8 << 20) << "released pages should no longer be resident";
  EXPECT_EQ(p.sum().item<double>(), sum) << "released pages read again from the file";
  // A tensor in memory is left alone.
  auto in_memory = torch::ones({1 << 20});
  release_pages(in_memory);
  EXPECT_EQ(in_memory.sum().item<double>(), 1 << 20);
  // Writes to a mapped tensor stay in the process (copy on write), never reach the file.
  p[0][0] = 42.0f;
  EXPECT_EQ(DictFile::load(dir + "/big.pt", "test", 1, "").tensor("params")[0][0].item<float>(), 0.0f);
  test::run_command("rm -rf '" + dir + "'");
}

TEST(ZipWriter, EntriesAndOffsetsPastFourGigabytesUseZip64) {
  // A 4.1 GB entry (ZIP64 sizes) followed by a small one (a ZIP64 offset), read back by pdiff's
  // reader and by Python's zipfile. The entry's zeros are a hole in a sparse file, taken over by
  // `reopen` as a resumed collection's rows are: nothing goes to the disk but the headers.
  const std::string dir = test::temp_dir("zip64");
  const uint64_t big = (uint64_t(1) << 32) + (uint64_t(1) << 27);
  uint64_t data_offset = 0;
  {
    ZipWriter zip(dir + "/big.zip");
    zip.begin_entry("archive/data/0", big);
    data_offset = zip.entry_data_offset();
  }
  std::filesystem::resize_file(dir + "/big.zip", data_offset + big);
  {
    ZipWriter zip = ZipWriter::reopen(dir + "/big.zip", "archive/data/0", big, big);
    EXPECT_EQ(zip.entry_written(), big);
    zip.end_entry();
    zip.add("archive/small", "hello");
    zip.finish();
  }
  auto file = MappedFile::open(dir + "/big.zip");
  ZipReader zip(file->bytes(), dir + "/big.zip");
  ASSERT_EQ(zip.entries().size(), 2u);
  EXPECT_EQ(zip.entries()[0].size, big);
  const ZipEntry* small = zip.find("archive/small");
  ASSERT_NE(small, nullptr);
  EXPECT_GT(small->data_offset, big);
  EXPECT_EQ(zip.data(*small), "hello");
  EXPECT_TRUE(zip.crc_ok(*small));
  EXPECT_EQ(crc32_released(*file, zip.entries()[0].data_offset, big), zip.entries()[0].crc32);
  std::string out;
  const std::string py =
      "import zipfile, sys; z = zipfile.ZipFile(sys.argv[1]); "
      "print([(i.filename, i.file_size) for i in z.infolist()], z.read('archive/small'))";
  ASSERT_EQ(test::run_command("/usr/bin/python3 -c \"" + py + "\" '" + dir + "/big.zip'", &out), 0) << out;
  EXPECT_CONTAINS(out, "('archive/data/0', " + std::to_string(big) + "), ('archive/small', 5)] b'hello'");
  file.reset();
  test::run_command("rm -rf '" + dir + "'");
}

}  // namespace
}  // namespace pdiff::rows_writer_test
