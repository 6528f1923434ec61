#include "test_util.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "core/error.h"

namespace pdiff::test {

std::string temp_dir(const std::string& tag) {
  static std::atomic<int> counter{0};
  std::string path = "/tmp/pdiff_test_" + tag + "_" + std::to_string(getpid()) + "_" +
                     std::to_string(counter++);
  std::system(("rm -rf '" + path + "' && mkdir -p '" + path + "'").c_str());
  return path;
}

int spawn_pdiff(const std::string& command, const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> argv_s = {pdiff_binary(), command};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(const_cast<char*>(s.c_str()));
  argv.push_back(nullptr);
  int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {  // only async-signal-safe calls between fork and exec
    dup2(fd, 1);
    dup2(fd, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fd);
  return pid;
}

std::string tiny_pipeline(const std::string& dir) {
  return " run_dir=" + dir +
         " threads=1 data.train_limit=1000 data.test_limit=500 base.epochs=1 zoo.k=20"
         " ae.channels=8,16,16,8 ae.latent=32 ae.steps=60 ae.batch=10 ldm.channels=8,16 ldm.steps=60"
         " ldm.batch=20 generate.n=10 generate.steps=10 eval.baseline_n=5 eval.tsne=false";
}

std::string pdiff_ok(const std::string& args) {
  std::string out;
  const int rc = run_command(pdiff_binary() + " " + args, &out);
  EXPECT_EQ(rc, 0) << "pdiff " << args << "\n" << tail(out);
  return out;
}

std::string tail(const std::string& s, size_t n) { return s.substr(s.size() > n ? s.size() - n : 0); }

std::string python_script_command(const std::string& script, const std::string& args) {
  return "/usr/bin/python3 '" + source_dir() + "/tests/python/" + script + "' " + args;
}

std::string own_data_command(const std::string& args) { return python_script_command("own_data.py", args); }

std::vector<std::string> python_interpreters() {
  std::vector<std::string> pythons = {"/usr/bin/python3"};
  if (const char* other = std::getenv("PDIFF_TORCH2_PYTHON"); other != nullptr && *other != '\0')
    pythons.push_back(other);
  return pythons;
}

int run_command(const std::string& cmd, std::string* output) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  std::array<char, 4096> buf;
  std::string out;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = pclose(p);
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string pdiff_binary() { return PDIFF_BINARY; }
std::string source_dir() { return PDIFF_SOURCE_DIR; }

pdiff::DataSplits random_fashion_images(int64_t n) {
  pdiff::DataSplits d;
  d.name = "fashion-mnist";
  d.train.images = torch::randn({n, 1, 28, 28});
  d.train.labels = torch::randint(0, 10, {n});
  d.test = d.train;
  return d;
}

double max_relative_difference(const torch::Tensor& a, const torch::Tensor& b) {
  double scale = b.abs().max().item<double>();
  double diff = (a - b).abs().max().item<double>();
  return diff / std::max(scale, 1e-12);
}

// --- tiny datasets in the real formats ----------------------------------------------------

namespace {

// splitmix64: the same numbers everywhere (std distributions are implementation-defined).
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  int uniform(int lo, int hi) { return lo + static_cast<int>(next() % static_cast<uint64_t>(hi - lo + 1)); }
};

struct TinySplit {
  std::vector<std::string> images;  // (C, H, W) row-major bytes each
  std::vector<int> labels;
};

// Class k: level 48 + 16 * ((7k + 3c) % 10) in channel c (distinct for the 10 classes of
// every channel, so it survives flips and crops) plus a fixed random texture of +-30; each
// image adds a top-to-bottom ramp of -20..+20 and noise of +-25.
TinySplit tiny_split(int64_t classes, int64_t c, int64_t hw, int64_t n, uint64_t seed, uint64_t stream) {
  const int64_t plane = hw * hw, size = c * plane;
  Rng tex{seed * 1000003u + 17};
  std::vector<int> templates(static_cast<size_t>(classes * size));
  for (int64_t k = 0; k < classes; ++k)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t p = 0; p < plane; ++p)
        templates[k * size + ch * plane + p] = 48 + 16 * static_cast<int>((7 * k + 3 * ch) % 10) + tex.uniform(-30, 30);
  Rng noise{seed * 1000003u + 1000 + stream};
  TinySplit out;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t k = i % classes;
    std::string img(static_cast<size_t>(size), '\0');
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < hw; ++y)
        for (int64_t x = 0; x < hw; ++x) {
          const int64_t p = ch * plane + y * hw + x;
          int v = templates[k * size + p] + static_cast<int>(40 * y / (hw - 1)) - 20 + noise.uniform(-25, 25);
          img[p] = static_cast<char>(std::clamp(v, 0, 255));
        }
    out.images.push_back(std::move(img));
    out.labels.push_back(static_cast<int>(k));
  }
  return out;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  check(out.good(), path + ": cannot write the tiny dataset file");
}

std::string make_dir(const std::string& dir) {
  std::filesystem::create_directories(dir);
  return dir;
}

// CIFAR records: label byte(s) then the 3072 pixels; CIFAR-100 has (coarse, fine).
std::string cifar_records(const TinySplit& s, size_t begin, size_t end, bool hundred) {
  std::string out;
  for (size_t i = begin; i < end; ++i) {
    if (hundred) out.push_back(static_cast<char>(s.labels[i] / 5));
    out.push_back(static_cast<char>(s.labels[i]));
    out += s.images[i];
  }
  return out;
}

void put_be32(std::string& b, uint32_t v) {
  for (int sh = 24; sh >= 0; sh -= 8) b.push_back(static_cast<char>((v >> sh) & 0xff));
}

}  // namespace

std::string write_tiny_cifar10(const std::string& dir, int64_t n_train, int64_t n_test, uint64_t seed) {
  check(n_train >= 5 && n_test >= 1, "write_tiny_cifar10: need n_train >= 5 (one image per batch file) and n_test >= 1");
  make_dir(dir);
  TinySplit train = tiny_split(10, 3, 32, n_train, seed, 1), test = tiny_split(10, 3, 32, n_test, seed, 2);
  for (int64_t b = 0; b < 5; ++b)
    write_bytes(dir + "/data_batch_" + std::to_string(b + 1) + ".bin",
                cifar_records(train, b * n_train / 5, (b + 1) * n_train / 5, false));
  write_bytes(dir + "/test_batch.bin", cifar_records(test, 0, test.images.size(), false));
  return dir;
}

std::string write_tiny_cifar100(const std::string& dir, int64_t n_train, int64_t n_test, uint64_t seed) {
  check(n_train >= 1 && n_test >= 1, "write_tiny_cifar100: need n_train, n_test >= 1");
  make_dir(dir);
  TinySplit train = tiny_split(100, 3, 32, n_train, seed, 1), test = tiny_split(100, 3, 32, n_test, seed, 2);
  write_bytes(dir + "/train.bin", cifar_records(train, 0, train.images.size(), true));
  write_bytes(dir + "/test.bin", cifar_records(test, 0, test.images.size(), true));
  return dir;
}

std::string write_tiny_stl10(const std::string& dir, int64_t n_train, int64_t n_test, uint64_t seed) {
  check(n_train >= 1 && n_test >= 1, "write_tiny_stl10: need n_train, n_test >= 1");
  make_dir(dir);
  const int64_t hw = 96, plane = hw * hw;
  auto write = [&](const std::string& split, const TinySplit& s) {
    std::string x, y;
    for (size_t i = 0; i < s.images.size(); ++i) {
      for (int64_t ch = 0; ch < 3; ++ch)  // every channel column-major: byte (col, row)
        for (int64_t col = 0; col < hw; ++col)
          for (int64_t row = 0; row < hw; ++row) x.push_back(s.images[i][ch * plane + row * hw + col]);
      y.push_back(static_cast<char>(s.labels[i] + 1));  // labels 1..10 on disk
    }
    write_bytes(dir + "/" + split + "_X.bin", x);
    write_bytes(dir + "/" + split + "_y.bin", y);
  };
  write("train", tiny_split(10, 3, hw, n_train, seed, 1));
  write("test", tiny_split(10, 3, hw, n_test, seed, 2));
  return dir;
}

std::string write_tiny_mnist(const std::string& dir, int64_t n_train, int64_t n_test, uint64_t seed) {
  check(n_train >= 1 && n_test >= 1, "write_tiny_mnist: need n_train, n_test >= 1");
  make_dir(dir);
  auto write = [&](const std::string& prefix, const TinySplit& s) {
    std::string x, y;
    put_be32(x, 0x00000803u);  // unsigned bytes, 3 dimensions
    put_be32(x, static_cast<uint32_t>(s.images.size()));
    put_be32(x, 28);
    put_be32(x, 28);
    put_be32(y, 0x00000801u);
    put_be32(y, static_cast<uint32_t>(s.labels.size()));
    for (size_t i = 0; i < s.images.size(); ++i) {
      x += s.images[i];
      y.push_back(static_cast<char>(s.labels[i]));
    }
    write_bytes(dir + "/" + prefix + "-images-idx3-ubyte", x);
    write_bytes(dir + "/" + prefix + "-labels-idx1-ubyte", y);
  };
  write("train", tiny_split(10, 1, 28, n_train, seed, 1));
  write("t10k", tiny_split(10, 1, 28, n_test, seed, 2));
  return dir;
}

}  // namespace pdiff::test
