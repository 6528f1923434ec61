// Fuzzes the .pt loaders: the generic dict reader (also used for Python-written state dicts)
// and every typed pdiff file (zoo, generated, autoencoder, diffusion model). Inputs reach
// LibTorch's unpickler only after pdiff has checked the container.
#include "core/file_io.h"
#include "fuzz_util.h"
#include "gen/generate.h"
#include "gen/model_files.h"
#include "zoo/zoo_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pdiff::fuzz::init_once();
  std::string path = pdiff::fuzz::write_scratch("file.pt", data, size);
  if (pdiff::fuzz::accepts([&] { pdiff::DictFile::load_any(path); })) {
    pdiff::fuzz::accepts([&] { pdiff::load_zoo(path); });
    pdiff::fuzz::accepts([&] { pdiff::load_generated(path); });
    pdiff::fuzz::accepts([&] { pdiff::load_ae(path); });
    pdiff::fuzz::accepts([&] { pdiff::load_ldm(path); });
  }
  std::remove(path.c_str());
  return 0;
}
