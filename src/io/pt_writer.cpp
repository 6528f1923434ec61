#include "io/pt_writer.h"

#include <torch/csrc/jit/serialization/pickler.h>

#include <cstdio>

#include "core/error.h"

namespace pdiff {
namespace {

// The value as torch.load(f, weights_only=True) reads it in PyTorch 1.13 and 2.x with no
// allowlist: LibTorch's pickler wraps typed containers in torch.jit._pickle.restore_type_tag /
// build_intlist, which that load refuses, so every list and dict is rebuilt untyped (pickled as
// Python's torch.save writes them: EMPTY_DICT ... SETITEMS, EMPTY_LIST ... APPENDS); and 1.13's
// weights-only unpickler has no opcode for a float, so a float becomes a 0-dim float64 tensor
// (Python: float(d[key]) as before; DictFile::number reads either).
c10::IValue untyped(const c10::IValue& v) {
  if (v.isDouble()) return torch::scalar_tensor(v.toDouble(), torch::kFloat64);
  if (v.isGenericDict()) {
    c10::impl::GenericDict out(c10::AnyType::get(), c10::AnyType::get());
    for (const auto& item : v.toGenericDict()) out.insert(untyped(item.key()), untyped(item.value()));
    return out;
  }
  if (v.isList()) {
    c10::impl::GenericList out(c10::AnyType::get());
    for (const auto& item : v.toListRef()) out.push_back(untyped(item));
    return out;
  }
  if (v.isTuple()) {
    std::vector<c10::IValue> items;
    for (const auto& item : v.toTupleRef().elements()) items.push_back(untyped(item));
    return c10::ivalue::Tuple::create(std::move(items));
  }
  return v;
}

}  // namespace

void write_pt(ZipWriter& zip, const c10::IValue& value, bool first_storage_written) {
  std::string pickle;
  torch::jit::Pickler pickler([&](const char* p, size_t n) { pickle.append(p, n); }, nullptr, nullptr, nullptr,
                             nullptr, /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(untyped(value));
  pickler.stop();
  const std::vector<at::Tensor>& storages = pickler.tensorData();
  check(!first_storage_written ||
            (!storages.empty() && storages[0].storage().nbytes() == zip.first_entry_size()),
        "write_pt: the first storage pickled is not the entry written before");
  for (size_t i = first_storage_written ? 1 : 0; i < storages.size(); ++i) {
    const c10::Storage s = storages[i].storage();
    check(s.device().is_cpu(), "write_pt: tensors must be on the CPU");
    zip.begin_entry("archive/data/" + std::to_string(i), s.nbytes());
    zip.write(s.data(), s.nbytes());
    zip.end_entry();
  }
  zip.add("archive/data.pkl", pickle);
  zip.add("archive/version", "3\n");  // the archive format version torch::pickle_save writes
  zip.finish();
}

void save_pt_atomic(const std::string& path, const c10::IValue& value) {
  const std::string tmp = path + ".tmp";
  try {
    ZipWriter zip(tmp);
    write_pt(zip, value);
  } catch (const std::exception& e) {
    std::remove(tmp.c_str());
    throw Error(path + ": write failed (" + e.what() + "); the previous file, if any, is unchanged");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(path + ": write failed (cannot rename " + tmp + "); the previous file, if any, is unchanged");
  }
}

}  // namespace pdiff
