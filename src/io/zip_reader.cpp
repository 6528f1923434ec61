#include "io/zip_reader.h"

#include <zlib.h>

#include <algorithm>

#include "core/error.h"
#include "io/zip_format.h"

namespace pdiff {

using namespace zip;  // the record signatures, put_le

namespace {

// Little-endian fields at checked offsets.
class Cursor {
 public:
  Cursor(std::string_view bytes, const std::string& path) : b_(bytes), path_(path) {}
  uint64_t get(uint64_t at, int n) const {
    check(at <= b_.size() && uint64_t(n) <= b_.size() - at, path_ + ": not a valid .pt file (zip record at byte " +
                                                                 std::to_string(at) + " runs past the end; truncated?)");
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b_[at + i]);
    return v;
  }
  std::string_view str(uint64_t at, uint64_t n) const {
    get(at, 0);
    check(n <= b_.size() - at, path_ + ": not a valid .pt file (zip name runs past the end)");
    return b_.substr(at, n);
  }

 private:
  std::string_view b_;
  const std::string& path_;
};

}  // namespace

uint32_t crc32_of(std::string_view bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* p = reinterpret_cast<const Bytef*>(bytes.data());
  for (size_t left = bytes.size(); left > 0;) {
    const uInt n = static_cast<uInt>(std::min<size_t>(left, 1u << 30));
    crc = crc32(crc, p, n);
    p += n, left -= n;
  }
  return static_cast<uint32_t>(crc);
}

ZipReader::ZipReader(std::string_view bytes, const std::string& path) : bytes_(bytes), path_(path) {
  const std::string bad = path + ": not a valid .pt file (";
  Cursor c(bytes, path);
  check(bytes.size() >= 22, bad + "too short for a zip archive; truncated or empty? Save it again with torch.save)");
  // End of central directory: the last record whose comment runs exactly to the end of the file.
  uint64_t end = bytes.size();
  const uint64_t lowest = bytes.size() >= 22 + 65535 ? bytes.size() - 22 - 65535 : 0;
  for (uint64_t at = bytes.size() - 22 + 1; at-- > lowest;) {
    if (c.get(at, 4) == kEndSig && c.get(at + 20, 2) == bytes.size() - at - 22) {
      end = at;
      break;
    }
  }
  check(end != bytes.size(), bad + "no zip end-of-directory record: truncated, or the old non-zip format of "
                                   "torch.save(..., _use_new_zipfile_serialization=False)? Save it again with torch.save)");
  check(c.get(end + 4, 2) == 0 && c.get(end + 6, 2) == 0, bad + "multi-disk zip)");
  uint64_t count = c.get(end + 10, 2), cd_size = c.get(end + 12, 4), cd_offset = c.get(end + 16, 4);
  check(c.get(end + 8, 2) == count, bad + "inconsistent entry counts)");
  uint64_t cd_limit = end;  // the central directory ends before the (ZIP64) end records
  if (end >= 20 && c.get(end - 20, 4) == kLocator64Sig) {
    const uint64_t at = c.get(end - 12, 8);
    check(at <= end - 20 && end - 20 - at >= 56 && c.get(at, 4) == kEnd64Sig, bad + "bad ZIP64 end record)");
    const uint64_t count64 = c.get(at + 32, 8), size64 = c.get(at + 40, 8), offset64 = c.get(at + 48, 8);
    check(c.get(at + 24, 8) == count64, bad + "inconsistent entry counts)");
    check((count == 0xffff || count == count64) && (cd_size == 0xffffffff || cd_size == size64) &&
              (cd_offset == 0xffffffff || cd_offset == offset64),
          bad + "the zip end records disagree)");
    count = count64, cd_size = size64, cd_offset = offset64, cd_limit = at;
  }
  check(cd_offset <= cd_limit && cd_size == cd_limit - cd_offset, bad + "central directory out of place)");
  check(count <= cd_size / 46, bad + "more zip entries than the central directory holds)");

  uint64_t at = cd_offset;
  for (uint64_t i = 0; i < count; ++i) {
    check(at + 46 <= cd_limit && c.get(at, 4) == kCentralSig, bad + "bad central directory record " + std::to_string(i) + ")");
    const uint64_t flags = c.get(at + 8, 2), method = c.get(at + 10, 2);
    ZipEntry e;
    e.crc32 = static_cast<uint32_t>(c.get(at + 16, 4));
    uint64_t csize = c.get(at + 20, 4), usize = c.get(at + 24, 4);
    const uint64_t name_len = c.get(at + 28, 2), extra_len = c.get(at + 30, 2), comment_len = c.get(at + 32, 2);
    uint64_t local = c.get(at + 42, 4);
    const uint64_t next = at + 46 + name_len + extra_len + comment_len;
    check(next <= cd_limit, bad + "central directory record " + std::to_string(i) + " runs past its end)");
    e.name = std::string(c.str(at + 46, name_len));
    check(!e.name.empty() && e.name.find('\0') == std::string::npos, bad + "bad entry name)");
    check((flags & 1) == 0 && method == 0, bad + "entry '" + e.name + "' is compressed or encrypted)");
    // ZIP64 extra field: the 64-bit values of the fields that read 0xffffffff, in this order.
    for (uint64_t x = at + 46 + name_len, x_end = x + extra_len; x + 4 <= x_end;) {
      const uint64_t id = c.get(x, 2), len = c.get(x + 2, 2);
      check(x + 4 + len <= x_end, bad + "bad extra field of '" + e.name + "')");
      if (id == 1) {
        uint64_t f = x + 4;
        auto take = [&](uint64_t& v) {
          if (v != 0xffffffff) return;
          check(f + 8 <= x + 4 + len, bad + "short ZIP64 field of '" + e.name + "')");
          v = c.get(f, 8), f += 8;
        };
        take(usize), take(csize), take(local);
      }
      x += 4 + len;
    }
    check(csize == usize, bad + "entry '" + e.name + "' is compressed)");
    check(index_.emplace(e.name, entries_.size()).second, bad + "two entries named '" + e.name + "')");
    // The local header must sit before the central directory and name the same entry.
    check(local <= cd_offset && cd_offset - local >= 30 && c.get(local, 4) == kLocalSig,
          bad + "entry '" + e.name + "' has no local header)");
    const uint64_t lname = c.get(local + 26, 2), lextra = c.get(local + 28, 2);
    check(c.get(local + 8, 2) == 0 && lname == name_len && c.str(local + 30, lname) == e.name,
          bad + "local header of '" + e.name + "' disagrees with the central directory)");
    e.data_offset = local + 30 + lname + lextra;
    e.size = usize;
    check(e.data_offset <= cd_offset && e.size <= cd_offset - e.data_offset,
          bad + "entry '" + e.name + "' runs past the data area)");
    entries_.push_back(std::move(e));
    at = next;
  }
}

const ZipEntry* ZipReader::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

bool ZipReader::crc_ok(const ZipEntry& e) const { return crc32_of(data(e)) == e.crc32; }

std::string write_stored_zip(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string out, cd;
  for (const auto& [name, data] : entries) {
    const uint32_t crc = crc32_of(data);
    const size_t local = out.size();
    put_le(out, kLocalSig, 4), put_le(out, 20, 2), put_le(out, 0, 2), put_le(out, 0, 2), put_le(out, 0, 4);
    put_le(out, crc, 4), put_le(out, data.size(), 4), put_le(out, data.size(), 4);
    put_le(out, name.size(), 2), put_le(out, 0, 2);
    out += name + data;
    put_le(cd, kCentralSig, 4), put_le(cd, 20, 2), put_le(cd, 20, 2), put_le(cd, 0, 2), put_le(cd, 0, 2);
    put_le(cd, 0, 4), put_le(cd, crc, 4), put_le(cd, data.size(), 4), put_le(cd, data.size(), 4);
    put_le(cd, name.size(), 2), put_le(cd, 0, 2), put_le(cd, 0, 2), put_le(cd, 0, 2), put_le(cd, 0, 2);
    put_le(cd, 0, 4), put_le(cd, local, 4);
    cd += name;
  }
  const size_t cd_offset = out.size();
  out += cd;
  put_le(out, kEndSig, 4), put_le(out, 0, 2), put_le(out, 0, 2), put_le(out, entries.size(), 2);
  put_le(out, entries.size(), 2), put_le(out, cd.size(), 4), put_le(out, cd_offset, 4), put_le(out, 0, 2);
  return out;
}

}  // namespace pdiff
