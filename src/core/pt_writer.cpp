#include "core/pt_writer.h"

#include <torch/csrc/jit/serialization/pickler.h>

#include <cstdio>

#include "core/error.h"

namespace pdiff {

void write_pt(ZipWriter& zip, const c10::IValue& value, bool first_storage_written) {
  std::string pickle;
  torch::jit::Pickler pickler([&](const char* p, size_t n) { pickle.append(p, n); }, nullptr, nullptr, nullptr);
  pickler.protocol();
  pickler.pushIValue(value);
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
