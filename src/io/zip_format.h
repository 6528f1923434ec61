// The ZIP records torch.save's archives use, shared by the reader and the writer: record
// signatures and little-endian encoding.
#pragma once
#include <cstdint>
#include <string>

namespace pdiff::zip {

constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEndSig = 0x06054b50;
constexpr uint32_t kEnd64Sig = 0x06064b50, kLocator64Sig = 0x07064b50;

// Appends the n low bytes of v, least significant first.
inline void put_le(std::string& b, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace pdiff::zip
