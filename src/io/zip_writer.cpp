#include "io/zip_writer.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "io/zip_format.h"

namespace pdiff {

using namespace zip;  // the record signatures, put_le

namespace {

constexpr uint64_t kMax32 = 0xffffffff;
constexpr uint64_t kAlign = 64;  // torch.save's alignment of entry data


uint32_t crc_update(uint32_t crc, const void* data, uint64_t n) {
  const auto* p = static_cast<const Bytef*>(data);
  uLong c = crc;
  while (n > 0) {
    const uInt step = static_cast<uInt>(std::min<uint64_t>(n, 1u << 30));
    c = crc32(c, p, step);
    p += step, n -= step;
  }
  return static_cast<uint32_t>(c);
}

// The local header of an entry starting at `offset`, padded so that its data is aligned.
std::string local_header(const std::string& name, uint64_t size, uint32_t crc, uint64_t offset) {
  const bool zip64 = size >= kMax32;
  std::string h;
  put_le(h, kLocalSig, 4), put_le(h, zip64 ? 45 : 20, 2), put_le(h, 0, 2), put_le(h, 0, 2);
  put_le(h, 0, 4), put_le(h, crc, 4);
  put_le(h, zip64 ? kMax32 : size, 4), put_le(h, zip64 ? kMax32 : size, 4);
  const uint64_t fixed = 30 + name.size() + (zip64 ? 20 : 0) + 4;
  const uint64_t pad = (kAlign - (offset + fixed) % kAlign) % kAlign;
  put_le(h, name.size(), 2), put_le(h, (zip64 ? 20 : 0) + 4 + pad, 2);
  h += name;
  if (zip64) put_le(h, 1, 2), put_le(h, 16, 2), put_le(h, size, 8), put_le(h, size, 8);
  put_le(h, 0x4246, 2), put_le(h, pad, 2);  // "FB": torch.save's padding field
  h.append(pad, 'Z');
  return h;
}

}  // namespace

ZipWriter::ZipWriter(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  check(fd_ >= 0, path + ": cannot write (is the directory writable?)");
}

ZipWriter ZipWriter::reopen(const std::string& path, const std::string& name, uint64_t size, uint64_t keep) {
  ZipWriter w;
  w.path_ = path;
  w.fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  check(w.fd_ >= 0, path + ": cannot reopen for appending");
  const std::string expect = local_header(name, size, 0, 0);
  std::string head(expect.size(), '\0');
  const bool same = ::pread(w.fd_, head.data(), head.size(), 0) == static_cast<ssize_t>(head.size()) &&
                    head.compare(0, 14, expect, 0, 14) == 0 && head.compare(18, std::string::npos, expect, 18) == 0;
  check(same, path + ": does not begin with entry '" + name + "' of " + std::to_string(size) +
                  " bytes; delete it to start over");
  w.data_offset_ = expect.size();
  check(keep <= size, path + ": asked to keep more bytes than the entry holds");
  const off_t end = ::lseek(w.fd_, 0, SEEK_END);
  check(end >= 0 && static_cast<uint64_t>(end) >= w.data_offset_ + keep,
        path + ": holds fewer bytes than its resume state says; delete it to start over");
  check(::ftruncate(w.fd_, static_cast<off_t>(w.data_offset_ + keep)) == 0, path + ": cannot truncate");
  std::vector<char> buf(16 << 20);
  for (uint64_t at = 0; at < keep;) {
    const uint64_t n = std::min<uint64_t>(buf.size(), keep - at);
    check(::pread(w.fd_, buf.data(), n, static_cast<off_t>(w.data_offset_ + at)) == static_cast<ssize_t>(n),
          path + ": read failed while resuming");
    w.crc_ = crc_update(w.crc_, buf.data(), n);
    at += n;
  }
  w.entries_.push_back({name, 0, size, 0});
  w.open_entry_ = true;
  w.written_ = keep;
  w.offset_ = w.data_offset_ + keep;
  check(::lseek(w.fd_, static_cast<off_t>(w.offset_), SEEK_SET) >= 0, path + ": cannot seek");
  return w;
}

ZipWriter::ZipWriter(ZipWriter&& o) noexcept
    : path_(std::move(o.path_)), fd_(o.fd_), offset_(o.offset_), entries_(std::move(o.entries_)),
      open_entry_(o.open_entry_), data_offset_(o.data_offset_), written_(o.written_), crc_(o.crc_) {
  o.fd_ = -1;
}

ZipWriter::~ZipWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void ZipWriter::put(const void* data, uint64_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t k = ::write(fd_, p, std::min<uint64_t>(n, 1u << 30));
    check(k > 0, path_ + ": write failed (disk full?)");
    p += k, n -= k, offset_ += k;
  }
}

void ZipWriter::begin_entry(const std::string& name, uint64_t size) {
  check(!open_entry_, path_ + ": zip entry '" + name + "' begun inside another");
  const std::string h = local_header(name, size, 0, offset_);
  entries_.push_back({name, offset_, size, 0});
  put(h.data(), h.size());
  open_entry_ = true;
  data_offset_ = offset_;
  written_ = 0;
  crc_ = 0;
}

void ZipWriter::write(const void* data, uint64_t n) {
  check(open_entry_ && written_ + n <= entries_.back().size,
        path_ + ": more bytes written to zip entry '" + entries_.back().name + "' than declared");
  crc_ = crc_update(crc_, data, n);
  put(data, n);
  written_ += n;
}

void ZipWriter::end_entry() {
  Entry& e = entries_.back();
  check(open_entry_ && written_ == e.size, path_ + ": zip entry '" + e.name + "' ended short");
  e.crc = crc_;
  std::string crc;
  put_le(crc, crc_, 4);
  check(::pwrite(fd_, crc.data(), 4, static_cast<off_t>(e.local_offset + 14)) == 4, path_ + ": write failed");
  open_entry_ = false;
}

void ZipWriter::add(const std::string& name, const std::string& bytes) {
  begin_entry(name, bytes.size());
  write(bytes.data(), bytes.size());
  end_entry();
}

void ZipWriter::finish() {
  check(!open_entry_, path_ + ": finished inside a zip entry");
  std::string cd;
  for (const Entry& e : entries_) {
    std::string z64;
    if (e.size >= kMax32) put_le(z64, e.size, 8), put_le(z64, e.size, 8);
    if (e.local_offset >= kMax32) put_le(z64, e.local_offset, 8);
    const bool zip64 = !z64.empty();
    put_le(cd, kCentralSig, 4), put_le(cd, zip64 ? 45 : 20, 2), put_le(cd, zip64 ? 45 : 20, 2);
    put_le(cd, 0, 2), put_le(cd, 0, 2), put_le(cd, 0, 4), put_le(cd, e.crc, 4);
    put_le(cd, std::min(e.size, kMax32), 4), put_le(cd, std::min(e.size, kMax32), 4);
    put_le(cd, e.name.size(), 2), put_le(cd, zip64 ? 4 + z64.size() : 0, 2), put_le(cd, 0, 2);
    put_le(cd, 0, 2), put_le(cd, 0, 2), put_le(cd, 0, 4), put_le(cd, std::min(e.local_offset, kMax32), 4);
    cd += e.name;
    if (zip64) put_le(cd, 1, 2), put_le(cd, z64.size(), 2), cd += z64;
  }
  const uint64_t cd_offset = offset_, count = entries_.size();
  std::string end;
  if (count >= 0xffff || cd_offset >= kMax32 || cd.size() >= kMax32) {
    const uint64_t end64 = cd_offset + cd.size();
    put_le(end, kEnd64Sig, 4), put_le(end, 44, 8), put_le(end, 45, 2), put_le(end, 45, 2);
    put_le(end, 0, 4), put_le(end, 0, 4), put_le(end, count, 8), put_le(end, count, 8);
    put_le(end, cd.size(), 8), put_le(end, cd_offset, 8);
    put_le(end, kLocator64Sig, 4), put_le(end, 0, 4), put_le(end, end64, 8), put_le(end, 1, 4);
  }
  put_le(end, kEndSig, 4), put_le(end, 0, 2), put_le(end, 0, 2);
  put_le(end, std::min<uint64_t>(count, 0xffff), 2), put_le(end, std::min<uint64_t>(count, 0xffff), 2);
  put_le(end, std::min<uint64_t>(cd.size(), kMax32), 4), put_le(end, std::min(cd_offset, kMax32), 4);
  put_le(end, 0, 2);
  cd += end;
  put(cd.data(), cd.size());
  check(::fsync(fd_) == 0, path_ + ": write failed (disk full?)");
  check(::close(fd_) == 0, path_ + ": write failed (disk full?)");
  fd_ = -1;
}

}  // namespace pdiff
