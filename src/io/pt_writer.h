// Writes `.pt` files as torch::pickle_save lays them out (entries PREFIX/data/KEY, one per
// tensor storage, then PREFIX/data.pkl and PREFIX/version; torch.load reads them), straight to
// disk: each storage is written from where it lies, with no copy of the archive in memory.
#pragma once
#include <torch/torch.h>

#include <string>

#include "io/zip_writer.h"

namespace pdiff {

// Pickles `value` into `zip` and finishes it. When `first_storage_written`, the caller has
// already written the entry of the first storage the pickle meets (its key "0"): the zoo's
// rows, appended one checkpoint at a time (io/rows_writer.h).
void write_pt(ZipWriter& zip, const c10::IValue& value, bool first_storage_written = false);

// The name of the first storage's entry in a file written by write_pt.
inline constexpr char kFirstStorageEntry[] = "archive/data/0";

// Writes `value` to `path.tmp`, then renames it over `path`: a reader never sees half a file.
void save_pt_atomic(const std::string& path, const c10::IValue& value);

}  // namespace pdiff
