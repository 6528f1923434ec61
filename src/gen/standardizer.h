// Per-tensor standardisation of parameter vectors (SPEC 1.2): each tensor of the layout gets a
// scalar mean and std over all K checkpoints; vectors are standardised, then zero-padded to the
// length the autoencoder needs. invert() undoes it exactly (up to float rounding).
// Centring per coordinate instead (the token autoencoder's): each entry's own mean over the K
// checkpoints, and each tensor's std of the deviations from it. The mean checkpoint is then
// kept exactly, and the autoencoder models only how the checkpoints differ: a whole network's
// weights are far too many to be remembered by an autoencoder whose weights are shared.
#pragma once
#include <torch/torch.h>

#include "io/file_io.h"
#include "zoo/layout.h"

namespace pdiff {

class Standardizer {
 public:
  Standardizer() = default;
  // Statistics of params (K, D) under `layout`; pads to a multiple of `pad_multiple`.
  Standardizer(const torch::Tensor& params, const ParamLayout& layout, int64_t pad_multiple,
               bool centre_per_coordinate = false);

  torch::Tensor apply(const torch::Tensor& params) const;   // (M, D) -> (M, padded_dim)
  torch::Tensor invert(const torch::Tensor& x) const;       // (M, padded_dim) -> (M, D)
  int64_t dim() const { return mean_.numel(); }
  int64_t padded_dim() const { return padded_dim_; }
  // (D) each coordinate's divisor: its tensor's std over the K checkpoints (1 if it never varies).
  const torch::Tensor& scale() const { return std_; }

  void save(DictFile& f, const std::string& prefix) const;
  static Standardizer load(const DictFile& f, const std::string& prefix);

 private:
  torch::Tensor mean_, std_;  // (D) each: the tensor's scalar repeated over its elements
  int64_t padded_dim_ = 0;
};

}  // namespace pdiff
