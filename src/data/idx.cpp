// IDX reader (MNIST family), gzip-compressed or raw: zlib's gzread reads both.
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "data/dataset.h"

namespace pdiff {

namespace {

// Reads up to n bytes; returns how many were read. Throws on a corrupt gzip stream.
size_t gz_read(gzFile f, const std::string& path, uint8_t* dst, size_t n) {
  size_t total = 0;
  while (total < n) {
    unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - total, 1u << 30));
    int got = gzread(f, dst + total, chunk);
    if (got < 0) {
      int err = 0;
      std::string msg = gzerror(f, &err);
      throw Error(path + ": corrupt file (" + msg + "); re-download or re-install the dataset");
    }
    if (got == 0) break;
    total += static_cast<size_t>(got);
  }
  return total;
}

}  // namespace

torch::Tensor read_idx(const std::string& path, int64_t limit, int64_t* total) {
  gzFile f = gzopen(path.c_str(), "rb");
  check(f != nullptr, path + ": cannot open file (is data.root right?)");
  struct Closer { gzFile f; ~Closer() { gzclose(f); } } closer{f};

  uint8_t header[4];
  check(gz_read(f, path, header, 4) == 4, path + ": truncated: no IDX header");
  check(header[0] == 0 && header[1] == 0,
        path + ": not an IDX file (bad magic number); expected MNIST-format files");
  check(header[2] == 0x08, path + ": IDX element type " + std::to_string(header[2]) +
                               " is not supported; expected unsigned bytes (0x08)");
  int ndim = header[3];
  check(ndim >= 1 && ndim <= 4, path + ": IDX file with " + std::to_string(ndim) + " dimensions");
  std::vector<int64_t> dims(ndim);
  int64_t count = 1;
  for (int d = 0; d < ndim; ++d) {
    uint8_t b[4];
    check(gz_read(f, path, b, 4) == 4, path + ": truncated inside the IDX header");
    dims[d] = (int64_t(b[0]) << 24) | (int64_t(b[1]) << 16) | (int64_t(b[2]) << 8) | b[3];
    check(dims[d] > 0 && dims[d] < (1 << 28), path + ": implausible IDX dimension " + std::to_string(dims[d]));
    count *= dims[d];
    // No IDX dataset comes near 4 GiB; a bigger promise is a corrupt header (and keeps the
    // product of up to four dimensions < 2^28 from overflowing).
    check(count <= (int64_t(1) << 32), path + ": IDX header promises more than 4 GiB of data; the header is corrupt");
  }
  if (total) *total = dims[0];
  const bool limited = limit > 0 && limit < dims[0];
  if (limited) {
    count = count / dims[0] * limit;
    dims[0] = limit;
  }
  // Read in chunks before allocating the whole payload: a corrupt 20-byte header must not
  // make us allocate the 4 GiB it promises.
  std::vector<uint8_t> payload;
  size_t got = 0;
  while (got < static_cast<size_t>(count)) {
    size_t chunk = std::min<size_t>(static_cast<size_t>(count) - got, size_t(16) << 20);
    payload.resize(got + chunk);
    size_t n = gz_read(f, path, payload.data() + got, chunk);
    got += n;
    if (n < chunk) break;
  }
  check(got == static_cast<size_t>(count),
        path + ": truncated: header promises " + std::to_string(count) + " bytes of data, file has " +
            std::to_string(got) + "; re-download the file");
  uint8_t extra;
  check(limited || gz_read(f, path, &extra, 1) == 0, path + ": trailing data after the IDX payload; the file is corrupt");
  auto out = torch::empty(dims, torch::kUInt8);
  std::memcpy(out.data_ptr<uint8_t>(), payload.data(), payload.size());
  return out;
}

}  // namespace pdiff
