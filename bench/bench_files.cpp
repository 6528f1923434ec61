// What pdiff's own .pt reader (zip checks, CRC-32 of every entry, its unpickler) costs against
// LibTorch's pickle_load of the same bytes, on zoo-sized files: 200 x D floats.
//   build/bench_files [D...]      default: 2048 400000
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_util.h"
#include "io/file_io.h"
#include "io/zip_reader.h"

using namespace pdiff;

int main(int argc, char** argv) {
  std::vector<int64_t> dims;
  for (int i = 1; i < argc; ++i) dims.push_back(std::atoll(argv[i]));
  if (dims.empty()) dims = {2048, 400000};
  const std::string path = "/tmp/pdiff-bench-files-" + std::to_string(getpid()) + ".pt";
  for (int64_t d : dims) {
    DictFile f;
    f.set_tensor("params", torch::randn({200, d}));
    const double save = bench::time_per_call([&] { f.save(path, "pdiff.zoo", 1); }, 1.0);
    const std::string bytes = read_text_file(path);
    const double read = bench::time_per_call([&] { read_text_file(path); }, 1.0);
    const double torch_load = bench::time_per_call(
        [&] { torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end())); }, 1.0);
    const double pdiff_load = bench::time_per_call([&] { DictFile::load(path, "pdiff.zoo", 1, ""); }, 1.0);
    const double crc = bench::time_per_call([&] { crc32_of(bytes); }, 1.0);
    std::printf("200 x %lld floats (%.0f MB): save %.3f s | read file %.3f s, then LibTorch pickle_load %.3f s "
                "(%.3f s together) | pdiff load, file read included %.3f s (ratio %.2f), of which CRC-32 %.3f s\n",
                static_cast<long long>(d), bytes.size() / 1e6, save, read, torch_load, read + torch_load,
                pdiff_load, pdiff_load / (read + torch_load), crc);
  }
  std::remove(path.c_str());
  return 0;
}
