// Fuzzes the .pt loaders: the generic dict reader (also used for Python-written state dicts)
// and every typed pdiff file (zoo, generated, autoencoder, diffusion model). An input whose
// first byte is odd is a raw pickle, wrapped in an archive with correct CRC-32s so that it gets
// past the container checks into pdiff's unpickler; otherwise it is the whole file.
#include "io/file_io.h"
#include "io/zip_reader.h"
#include "fuzz_util.h"
#include "gen/generate.h"
#include "gen/model_files.h"
#include "zoo/zoo_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pdiff::fuzz::init_once();
  if (size < 1) return 0;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1)
    bytes = pdiff::write_stored_zip({{"archive/data.pkl", bytes},
                                     {"archive/data/0", std::string(16, '\1')},
                                     {"archive/data/1", std::string(8, '\2')},
                                     {"archive/version", "3\n"}});
  std::string path = pdiff::fuzz::write_scratch(
      "file.pt", reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (pdiff::fuzz::accepts([&] { pdiff::DictFile::load_any(path); })) {
    pdiff::fuzz::accepts([&] { pdiff::load_zoo(path); });
    pdiff::fuzz::accepts([&] { pdiff::load_generated(path); });
    pdiff::fuzz::accepts([&] { pdiff::load_ae(path); });
    pdiff::fuzz::accepts([&] { pdiff::load_ldm(path); });
  }
  std::remove(path.c_str());
  return 0;
}
