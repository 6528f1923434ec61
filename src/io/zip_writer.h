// Writes the zip container of `.pt` files straight to disk, entry by entry, in the layout
// torch.save uses: stored (uncompressed) entries whose data starts at a multiple of 64 bytes
// (padding in the local header's extra field), ZIP64 records where a size or offset needs them,
// the CRC-32 of every entry in its local header and in the central directory.
//
// Each entry's size is declared when it begins, so its data may arrive in any number of pieces,
// and the first entry may be appended to by several processes in turn (`reopen`): this is how
// the zoo is collected, one checkpoint at a time, never rewritten (core/rows_writer.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace pdiff {

class ZipWriter {
 public:
  // Creates (or truncates) `path`.
  explicit ZipWriter(const std::string& path);
  // Reopens a file whose first entry `name` of `size` bytes was begun by an earlier writer,
  // keeping its first `keep` data bytes (what is after them is cut off) and appending after them.
  static ZipWriter reopen(const std::string& path, const std::string& name, uint64_t size, uint64_t keep);
  ZipWriter(ZipWriter&& other) noexcept;
  ZipWriter& operator=(ZipWriter&&) = delete;
  ~ZipWriter();

  void begin_entry(const std::string& name, uint64_t size);
  void write(const void* data, uint64_t n);
  void end_entry();  // all `size` bytes must have been written
  // Data bytes of the current entry written so far, and its first byte's offset in the file.
  uint64_t entry_written() const { return written_; }
  uint64_t entry_data_offset() const { return data_offset_; }
  // The size declared for the file's first entry (0 when there is none).
  uint64_t first_entry_size() const { return entries_.empty() ? 0 : entries_.front().size; }
  // The central directory and the end records; flushes the file to disk and closes it.
  void finish();

  // A whole small entry at once.
  void add(const std::string& name, const std::string& bytes);

 private:
  struct Entry {
    std::string name;
    uint64_t local_offset = 0, size = 0;
    uint32_t crc = 0;
  };
  ZipWriter() = default;
  void put(const void* data, uint64_t n);

  std::string path_;
  int fd_ = -1;
  uint64_t offset_ = 0;  // end of what is written
  std::vector<Entry> entries_;
  bool open_entry_ = false;
  uint64_t data_offset_ = 0, written_ = 0;
  uint32_t crc_ = 0;
};

}  // namespace pdiff
