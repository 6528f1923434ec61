// Training augmentation: the per-dataset policy behind data.augment, and the batch transform.
#include <vector>

#include "core/error.h"
#include "data/dataset.h"

namespace pdiff {

std::string AugmentPolicy::description() const {
  std::string crop = crop_padding > 0 ? "crop(pad " + std::to_string(crop_padding) + ")" : "";
  if (flip) return crop.empty() ? "flip" : "flip+" + crop;
  return crop.empty() ? "none" : crop;
}

AugmentPolicy resolve_augment(const std::string& name, const std::string& setting) {
  // Crop padding: an eighth of the image size (CIFAR's customary 4 of 32).
  int64_t pad = 0;
  if (name == "fashion-mnist" || name == "mnist") pad = 3;
  else if (name == "cifar10" || name == "cifar100") pad = 4;
  else if (name == "stl10") pad = 12;
  else if (name == "tensors") pad = 1;  // a marker: load_tensor_dataset sets an eighth of the image size
  else throw Error("data.name: unknown dataset '" + name + "'; use fashion-mnist, mnist, cifar10, cifar100, stl10 or tensors");
  std::string s = setting == "true" ? "auto" : setting == "false" ? "none" : setting;
  if (s == "auto") {
    if (name == "mnist" || name == "tensors") s = "none";  // a flipped digit is another image; your data: ask
    else if (name == "fashion-mnist") s = "flip";
    else s = "flip+crop";
  }
  AugmentPolicy p;
  if (s == "flip" || s == "flip+crop") p.flip = true;
  if (s == "crop" || s == "flip+crop") p.crop_padding = pad;
  check(p.flip || p.crop_padding > 0 || s == "none",
        "data.augment: unknown value '" + setting + "'; use auto, none, flip, crop or flip+crop (true = auto, false = none)");
  return p;
}

torch::Tensor augment(const torch::Tensor& images, bool flip, int64_t pad, torch::Generator& gen) {
  const int64_t b = images.size(0);
  torch::Tensor out = images;
  if (flip) {
    auto mask = torch::rand({b}, gen, torch::TensorOptions().dtype(torch::kFloat32)).lt(0.5);
    out = torch::where(mask.view({b, 1, 1, 1}), images.flip({3}), images);
  }
  if (pad <= 0) return out;
  const int64_t h = images.size(2), w = images.size(3);
  auto padded = torch::constant_pad_nd(out, {pad, pad, pad, pad}, 0.0);
  auto offsets = torch::randint(0, 2 * pad + 1, {b, 2}, gen, torch::kInt64);
  auto acc = offsets.accessor<int64_t, 2>();
  std::vector<torch::Tensor> crops;
  crops.reserve(b);
  for (int64_t i = 0; i < b; ++i)
    crops.push_back(padded[i].slice(1, acc[i][0], acc[i][0] + h).slice(2, acc[i][1], acc[i][1] + w));
  return torch::stack(crops);
}

}  // namespace pdiff
