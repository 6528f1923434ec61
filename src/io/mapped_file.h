// Files read through the page cache instead of into memory: a large tensor of a `.pt` file (a
// zoo of whole networks: K x D floats, 9 GB for ResNet-18) is a view on the mapped file, read
// from disk a page at a time as it is used. A stage that walks such a tensor in chunks calls
// release_pages on each chunk when done with it, so the pages it read stop counting towards the
// process's memory (they are read again if used again): its resident size stays one chunk.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>
#include <string_view>

namespace pdiff {

class MappedFile {
 public:
  // Maps the whole file, private and copy-on-write: writes to a view never reach the file.
  static std::shared_ptr<MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::string_view bytes() const { return {data_, size_}; }
  // Drops the resident pages that hold [offset, offset + n) (whole pages: a few bytes either
  // side too). Only for data nobody wrote to: a page written to would lose the writes.
  void release(uint64_t offset, uint64_t n) const;

 private:
  MappedFile() = default;
  char* data_ = nullptr;
  size_t size_ = 0;
};

// A tensor of `dtype` and shape `sizes` whose elements are the file's bytes from `offset` (a
// multiple of the element size); it keeps the mapping alive.
torch::Tensor mapped_tensor(std::shared_ptr<MappedFile> file, uint64_t offset, at::ScalarType dtype,
                            at::IntArrayRef sizes);

// Whether `t`'s storage is a mapped file (a view made by mapped_tensor).
bool is_mapped(const torch::Tensor& t);

// Drops the resident pages of `t`'s elements (contiguous) when its storage is a mapped file;
// does nothing for a tensor in memory. Call on chunks of read-only data after their last use.
void release_pages(const torch::Tensor& t);

// The same for columns [c0, c1) of every row of a (K, D) tensor (a column chunk of a zoo).
void release_column_pages(const torch::Tensor& rows, int64_t c0, int64_t c1);

// CRC-32 of a stretch of a mapped file, releasing its pages as it goes.
uint32_t crc32_released(const MappedFile& file, uint64_t offset, uint64_t n);

}  // namespace pdiff
