// Files: whole-file reads, atomic writes (temporary name, then rename), and the `.pt` files
// pdiff writes: a pickled dict that Python's torch.load reads, with a format name and version.
// Every `.pt` file is read by pt_reader.h, which checks the zip, the CRC-32 of every entry (a
// corrupt tensor is named) and the pickle before anything is used.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

namespace pdiff {

class ZipWriter;

std::string read_text_file(const std::string& path);
// Writes to `path.tmp`, flushes, then renames over `path`: a reader never sees half a file.
void write_file_atomic(const std::string& path, const std::string& bytes);
// Writes DIR/config.yaml: the resolved config of the stage that ran last in DIR (collect when
// it starts writing, the other stages when they succeed; later commands with `--run DIR` read it).
void record_config(const std::string& dir, const std::string& config_yaml);
bool file_exists(const std::string& path);
// `path`, a stage's input that `pdiff COMMAND` writes; refused, naming both, when it is missing.
std::string stage_input(const std::string& path, const std::string& command);
void make_dirs(const std::string& path);

// A self-describing dict file: keys "format" (e.g. "pdiff.zoo") and "version" are added on
// save and checked on load.
class DictFile {
 public:
  DictFile();
  DictFile(c10::impl::GenericDict dict, std::string path);

  void set(const std::string& key, const c10::IValue& value);
  void set_tensor(const std::string& key, const torch::Tensor& t) { set(key, t.contiguous().cpu()); }
  void set_strings(const std::string& key, const std::vector<std::string>& v);
  void set_shapes(const std::string& key, const std::vector<std::vector<int64_t>>& v);
  void set_ints(const std::string& key, const std::vector<int64_t>& v);

  bool has(const std::string& key) const;
  torch::Tensor tensor(const std::string& key) const;
  std::string str(const std::string& key) const;
  int64_t integer(const std::string& key) const;
  double number(const std::string& key) const;
  std::vector<std::string> strings(const std::string& key) const;
  std::vector<int64_t> ints(const std::string& key) const;
  std::vector<std::vector<int64_t>> shapes(const std::string& key) const;
  const c10::impl::GenericDict& dict() const { return dict_; }
  const std::string& path() const { return path_; }

  void save(const std::string& path, const std::string& format, int64_t version);
  // Writes into `zip` and finishes it (core/pt_writer.h says what first_storage_written means).
  void write_to(ZipWriter& zip, const std::string& format, int64_t version, bool first_storage_written = false);
  // Loads and checks the format name and version; `hint` says how to make a good file.
  static DictFile load(const std::string& path, const std::string& format, int64_t version,
                       const std::string& hint);
  // Loads any pickled dict with string keys (e.g. a state dict written by Python's torch.save);
  // any malformed or corrupt input is an Error naming the file.
  static DictFile load_any(const std::string& path);

 private:
  c10::IValue get(const std::string& key) const;
  c10::impl::GenericDict dict_;
  std::string path_;
};

}  // namespace pdiff
