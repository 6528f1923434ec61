// A strict reader of the zip container of `.pt` files (PyTorch writes stored, uncompressed
// entries, ZIP64 records included). Every offset and size is bounds-checked against the file
// before it is used, so malformed bytes give an Error naming the file, never a bad read.
// Not a general zip reader: compressed or encrypted entries are refused.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pdiff {

struct ZipEntry {
  std::string name;
  uint64_t data_offset = 0;  // of the entry's bytes in the file
  uint64_t size = 0;
  uint32_t crc32 = 0;        // from the central directory
};

class ZipReader {
 public:
  // `bytes` must outlive the reader; `path` is used in error messages only.
  ZipReader(std::string_view bytes, const std::string& path);

  const std::vector<ZipEntry>& entries() const { return entries_; }
  // The entry called `name`, or nullptr.
  const ZipEntry* find(const std::string& name) const;
  std::string_view data(const ZipEntry& e) const { return bytes_.substr(e.data_offset, e.size); }
  // Whether the entry's bytes have the CRC-32 its central directory record says.
  bool crc_ok(const ZipEntry& e) const;

 private:
  std::string_view bytes_;
  std::string path_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, size_t> index_;  // name -> entries_ position
};

// CRC-32 (zlib's) of any number of bytes (zlib's crc32 takes at most 4 GiB per call).
uint32_t crc32_of(std::string_view bytes);

// The inverse, for tests and fuzz targets: a zip of stored entries (no ZIP64, < 4 GiB) with
// correct CRC-32s, so that hand-made or mutated pickles get past the container checks.
std::string write_stored_zip(const std::vector<std::pair<std::string, std::string>>& entries);

}  // namespace pdiff
