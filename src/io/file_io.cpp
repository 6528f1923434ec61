#include "io/file_io.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "io/pt_reader.h"
#include "io/pt_writer.h"

namespace pdiff {

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  check(in.good(), path + ": cannot open file (does it exist and is it readable?)");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  check(f != nullptr, path + ": cannot write (is the directory writable?)");
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  ok &= std::fflush(f) == 0;
  ok &= fsync(fileno(f)) == 0;
  ok &= std::fclose(f) == 0;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(path + ": write failed (disk full?); the previous file, if any, is unchanged");
  }
}

bool file_exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string stage_input(const std::string& path, const std::string& command) {
  check(file_exists(path), path + ": not found; run `pdiff " + command + "` with this config first (or `pdiff run`)");
  return path;
}

void make_dirs(const std::string& path) {
  std::string cur;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (!cur.empty() && !file_exists(cur)) {
        check(mkdir(cur.c_str(), 0755) == 0 || file_exists(cur), cur + ": cannot create directory");
      }
    }
    if (i < path.size()) cur += path[i];
  }
}

DictFile::DictFile() : dict_(c10::StringType::get(), c10::AnyType::get()) {}

DictFile::DictFile(c10::impl::GenericDict dict, std::string path)
    : dict_(std::move(dict)), path_(std::move(path)) {}

void DictFile::set(const std::string& key, const c10::IValue& value) { dict_.insert_or_assign(key, value); }

void DictFile::set_strings(const std::string& key, const std::vector<std::string>& v) {
  c10::List<std::string> list;
  for (const auto& s : v) list.push_back(s);
  set(key, list);
}

void DictFile::set_ints(const std::string& key, const std::vector<int64_t>& v) {
  c10::List<int64_t> list;
  for (auto x : v) list.push_back(x);
  set(key, list);
}

void DictFile::set_shapes(const std::string& key, const std::vector<std::vector<int64_t>>& v) {
  c10::impl::GenericList outer(c10::ListType::create(c10::IntType::get()));
  for (const auto& shape : v) {
    c10::List<int64_t> inner;
    for (auto x : shape) inner.push_back(x);
    outer.push_back(inner);
  }
  set(key, outer);
}

bool DictFile::has(const std::string& key) const { return dict_.contains(key); }

c10::IValue DictFile::get(const std::string& key) const {
  check(dict_.contains(key), path_ + ": missing key '" + key + "' (file from another program or an older pdiff?)");
  return dict_.at(key);
}

torch::Tensor DictFile::tensor(const std::string& key) const {
  auto v = get(key);
  check(v.isTensor(), path_ + ": key '" + key + "' is not a tensor");
  return v.toTensor();
}

std::string DictFile::str(const std::string& key) const {
  auto v = get(key);
  check(v.isString(), path_ + ": key '" + key + "' is not a string");
  return v.toStringRef();
}

int64_t DictFile::integer(const std::string& key) const {
  auto v = get(key);
  check(v.isInt(), path_ + ": key '" + key + "' is not an integer");
  return v.toInt();
}

double DictFile::number(const std::string& key) const {
  auto v = get(key);
  // pdiff writes a float as a 0-dim float64 tensor (io/pt_writer.cpp); older files and Python
  // hold a plain float.
  if (v.isTensor() && v.toTensor().dim() == 0 && v.toTensor().is_floating_point()) return v.toTensor().item<double>();
  check(v.isDouble() || v.isInt(), path_ + ": key '" + key + "' is not a number");
  return v.isDouble() ? v.toDouble() : static_cast<double>(v.toInt());
}

std::vector<std::string> DictFile::strings(const std::string& key) const {
  auto v = get(key);
  check(v.isList(), path_ + ": key '" + key + "' is not a list");
  std::vector<std::string> out;
  for (const auto& e : v.toListRef()) {
    check(e.isString(), path_ + ": key '" + key + "' must hold strings");
    out.push_back(e.toStringRef());
  }
  return out;
}

std::vector<int64_t> DictFile::ints(const std::string& key) const {
  auto v = get(key);
  check(v.isList(), path_ + ": key '" + key + "' is not a list");
  std::vector<int64_t> out;
  for (const auto& e : v.toListRef()) {
    check(e.isInt(), path_ + ": key '" + key + "' must hold integers");
    out.push_back(e.toInt());
  }
  return out;
}

std::vector<std::vector<int64_t>> DictFile::shapes(const std::string& key) const {
  auto v = get(key);
  check(v.isList(), path_ + ": key '" + key + "' is not a list");
  std::vector<std::vector<int64_t>> out;
  for (const auto& e : v.toListRef()) {
    // Tuples too: Python code rewriting a file may store shapes as tuples.
    check(e.isList() || e.isTuple(), path_ + ": key '" + key + "' must hold lists of integers");
    std::vector<int64_t> shape;
    for (const auto& x : e.isList() ? e.toListRef().vec() : e.toTupleRef().elements().vec()) {
      check(x.isInt(), path_ + ": key '" + key + "' must hold lists of integers");
      shape.push_back(x.toInt());
    }
    out.push_back(shape);
  }
  return out;
}

void DictFile::save(const std::string& path, const std::string& format, int64_t version) {
  set("format", format);
  set("version", version);
  save_pt_atomic(path, c10::IValue(dict_));
  path_ = path;
}

void DictFile::write_to(ZipWriter& zip, const std::string& format, int64_t version, bool first_storage_written) {
  set("format", format);
  set("version", version);
  write_pt(zip, c10::IValue(dict_), first_storage_written);
}

namespace {
// Reads and checks the whole file (pt_reader.h): zip, CRC-32 of every entry, the pickle.
DictFile read_dict(const std::string& path, const std::string& hint) {
  c10::IValue v = read_pt(path, hint);
  check(v.isGenericDict(), path + ": expected a dict at the top level (" + v.tagKind() +
                               " found); save a dict, e.g. torch.save(model.state_dict(), PATH) or "
                               "torch.save({\"train_x\": ..., \"train_y\": ..., \"test_x\": ..., \"test_y\": ...}, PATH)");
  c10::impl::GenericDict dict(c10::StringType::get(), c10::AnyType::get());
  for (const auto& kv : v.toGenericDict()) {
    check(kv.key().isString(), path + ": expected string keys at the top level");
    dict.insert_or_assign(kv.key(), kv.value());
  }
  return DictFile(dict, path);
}
}  // namespace

DictFile DictFile::load_any(const std::string& path) {
  return read_dict(path, "delete it and rerun the stage that writes it");
}

DictFile DictFile::load(const std::string& path, const std::string& format, int64_t version,
                        const std::string& hint) {
  DictFile f = read_dict(path, hint);
  check(f.has("format") && f.get("format").isString() && f.str("format") == format,
        path + ": not a " + format + " file; " + hint);
  int64_t got = f.integer("version");
  check(got == version, path + ": " + format + " format version " + std::to_string(got) +
                            ", this pdiff reads version " + std::to_string(version) + "; " + hint);
  return f;
}

void record_config(const std::string& dir, const std::string& config_yaml) {
  if (!config_yaml.empty()) write_file_atomic(dir + "/config.yaml", config_yaml);  // empty: a library call without one
}

}  // namespace pdiff
