// `pdiff train`: the parameter autoencoder on the standardised zoo, then the latent DDPM on the
// encoded (noise-free, unit-variance) latents. Writes ae.pt, ldm.pt and ae_loss.csv,
// ldm_loss.csv to the run directory; each part is skipped when its file is current and resumes
// from its partial file after an interruption.
#pragma once
#include "core/config.h"

namespace pdiff {

const std::vector<std::string>& ae_config_keys();
const std::vector<std::string>& ldm_config_keys();

void train(const Config& cfg);

}  // namespace pdiff
