// A `.pt` file written as its rows are made: its first tensor, `params` (K x D float32: the
// zoo's checkpoints, the generated models), is the file's first zip entry, appended one row at a
// time to a partial file and never rewritten; the rest of the dict follows once the last row is
// in, and the file is renamed into place. Memory holds one row, whatever K x D is. A writer
// killed part way is resumed by reopening the file, keeping the rows its caller's resume state
// counts and cutting off any written after them (the zoo's collection, zoo/collect.h).
#pragma once
#include <torch/torch.h>

#include <string>

#include "io/file_io.h"
#include "io/zip_writer.h"

namespace pdiff {

class RowsWriter {
 public:
  // A new file at `partial_path` for k rows of d floats, or (keep > 0) the file an earlier
  // writer left there, keeping its first `keep` rows. Throws naming the file if it does not
  // hold them.
  RowsWriter(const std::string& partial_path, int64_t k, int64_t d, int64_t keep = 0);

  void append(const torch::Tensor& row);  // (d) floats
  int64_t rows() const { return rows_; }
  // The rows written so far, read from the file through the page cache (io/mapped_file.h).
  torch::Tensor written() const;
  // Completes the file with `f`, whose first key must be "params" holding written() (only its
  // shape is pickled: the bytes are in place), then renames it to `path`. All k rows must be in.
  void finish(DictFile f, const std::string& format, int64_t version, const std::string& path);

 private:
  std::string path_;
  int64_t k_, d_, rows_ = 0;
  ZipWriter zip_;
};

}  // namespace pdiff
