#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>

#include "core/error.h"

namespace pdiff {

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  check(fd >= 0, path + ": cannot open file (does it exist and is it readable?)");
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw Error(path + ": cannot read its size");
  }
  std::shared_ptr<MappedFile> f(new MappedFile);
  f->size_ = static_cast<size_t>(st.st_size);
  if (f->size_ > 0) {
    void* p = ::mmap(nullptr, f->size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      throw Error(path + ": cannot map the file into memory");
    }
    f->data_ = static_cast<char*>(p);
  }
  ::close(fd);  // the mapping keeps the file
  return f;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

void MappedFile::release(uint64_t offset, uint64_t n) const {
  static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  offset = std::min<uint64_t>(offset, size_);
  n = std::min<uint64_t>(n, size_ - offset);
  // Whole pages: the edges' neighbours in the file are read again if they are used.
  const uint64_t begin = offset / page * page, end = std::min<uint64_t>((offset + n + page - 1) / page * page, size_);
  if (n > 0 && end > begin) ::madvise(data_ + begin, end - begin, MADV_DONTNEED);
}

namespace {

struct MappingRef {
  std::shared_ptr<MappedFile> file;
};

void delete_mapping_ref(void* ctx) { delete static_cast<MappingRef*>(ctx); }

}  // namespace

torch::Tensor mapped_tensor(std::shared_ptr<MappedFile> file, uint64_t offset, at::ScalarType dtype,
                            at::IntArrayRef sizes) {
  const uint64_t item = c10::elementSize(dtype);
  int64_t numel = 1;
  for (int64_t s : sizes) numel *= s;
  check(offset % item == 0 && offset + numel * item <= file->bytes().size(), "mapped_tensor: outside the file");
  void* data = const_cast<char*>(file->bytes().data()) + offset;
  c10::DataPtr ptr(data, new MappingRef{std::move(file)}, &delete_mapping_ref, c10::Device(c10::kCPU));
  c10::Storage storage(c10::Storage::use_byte_size_t(), numel * item, std::move(ptr), /*allocator=*/nullptr,
                       /*resizable=*/false);
  return torch::empty({0}, torch::TensorOptions().dtype(dtype)).set_(storage, 0, sizes);
}

bool is_mapped(const torch::Tensor& t) {
  return t.defined() && t.has_storage() && t.storage().data_ptr().get_deleter() == &delete_mapping_ref;
}

void release_pages(const torch::Tensor& t) {
  if (!is_mapped(t) || !t.is_contiguous()) return;
  const auto* ref = static_cast<const MappingRef*>(t.storage().data_ptr().get_context());
  const char* begin = ref->file->bytes().data();
  ref->file->release(static_cast<const char*>(t.data_ptr()) - begin, t.nbytes());
}

void release_column_pages(const torch::Tensor& rows, int64_t c0, int64_t c1) {
  if (!is_mapped(rows)) return;
  for (int64_t i = 0; i < rows.size(0); ++i) release_pages(rows[i].slice(0, c0, c1));
}

uint32_t crc32_released(const MappedFile& file, uint64_t offset, uint64_t n) {
  constexpr uint64_t kChunk = 64 << 20;
  uLong crc = crc32(0L, Z_NULL, 0);
  for (uint64_t at = offset, end = offset + n; at < end;) {
    const uint64_t step = std::min(kChunk, end - at);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(file.bytes().data() + at), static_cast<uInt>(step));
    file.release(at, step);
    at += step;
  }
  return static_cast<uint32_t>(crc);
}

}  // namespace pdiff
