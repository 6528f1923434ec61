// Reads a `.pt` file (what torch.save and torch::pickle_save write: a zip archive holding
// `PREFIX/data.pkl`, a pickle, and one entry `PREFIX/data/KEY` per tensor storage) without
// handing its bytes to LibTorch's unpickler, which trusts its input.
//
// What is checked, in order:
//  1. the zip container (zip_reader.h): every record inside the file, stored entries only;
//  2. the CRC-32 that the writer stored for every entry (PyTorch and LibTorch both write
//     them): data.pkl and the small entries before anything is parsed, every tensor storage
//     before its tensor is returned; a mismatch names the tensor;
//  3. the pickle, by a small unpickler of the subset torch.save / torch::pickle_save write:
//     known opcodes and globals only, stack and memo bounds, no cycles, nesting <= 32,
//     storages whose size matches their entry, tensor views inside their storage.
// Any failure is an Error naming the file; `hint` (e.g. "re-create it with `pdiff collect`")
// ends the message of a corrupt file.
#pragma once
#include <torch/torch.h>

#include <string>

namespace pdiff {

c10::IValue read_pt(const std::string& path, const std::string& hint);

// Throws an Error naming `path` and the tensor if a floating-point tensor of the dict holds NaN
// or infinity (weights from a file without pdiff's own checks, e.g. written by Python).
void check_finite_tensors(const c10::impl::GenericDict& dict, const std::string& path, const std::string& hint);

}  // namespace pdiff
