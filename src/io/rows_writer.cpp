#include "io/rows_writer.h"

#include <cstdio>

#include "core/error.h"
#include "io/file_io.h"
#include "io/mapped_file.h"
#include "io/pt_writer.h"

namespace pdiff {

namespace {
uint64_t row_bytes(int64_t d) { return static_cast<uint64_t>(d) * sizeof(float); }

ZipWriter open_rows(const std::string& path, int64_t k, int64_t d, int64_t keep) {
  if (keep > 0) return ZipWriter::reopen(path, kFirstStorageEntry, k * row_bytes(d), keep * row_bytes(d));
  ZipWriter zip(path);
  zip.begin_entry(kFirstStorageEntry, k * row_bytes(d));
  return zip;
}
}  // namespace

RowsWriter::RowsWriter(const std::string& partial_path, int64_t k, int64_t d, int64_t keep)
    : path_(partial_path), k_(k), d_(d), rows_(keep), zip_(open_rows(partial_path, k, d, keep)) {}

void RowsWriter::append(const torch::Tensor& row) {
  check(rows_ < k_, path_ + ": more than the " + std::to_string(k_) + " checkpoints declared");
  const torch::Tensor r = row.detach().to(torch::kFloat32).contiguous();
  check(r.numel() == d_, path_ + ": a checkpoint of " + std::to_string(r.numel()) + " values, expected " +
                             std::to_string(d_));
  zip_.write(r.data_ptr<float>(), row_bytes(d_));
  ++rows_;
}

torch::Tensor RowsWriter::written() const {
  if (rows_ == 0) return torch::empty({0, d_});
  return mapped_tensor(MappedFile::open(path_), zip_.entry_data_offset(), torch::kFloat32, {rows_, d_});
}

void RowsWriter::finish(DictFile f, const std::string& format, int64_t version, const std::string& path) {
  check(rows_ == k_, path_ + ": finished with " + std::to_string(rows_) + " of " + std::to_string(k_) + " rows");
  zip_.end_entry();
  f.write_to(zip_, format, version, /*first_storage_written=*/true);
  if (std::rename(path_.c_str(), path.c_str()) != 0)
    throw Error(path + ": write failed (cannot rename " + path_ + ")");
}

}  // namespace pdiff
