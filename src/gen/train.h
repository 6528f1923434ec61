// `pdiff train`: the parameter autoencoder on the standardised zoo, then the latent DDPM on the
// encoded (noise-free, unit-variance) latents. Writes ae.pt, ldm.pt and ae_loss.csv,
// ldm_loss.csv to the run directory; each part is skipped when its file is current and resumes
// from its partial file after an interruption.
#pragma once
#include <string>

#include "core/run_context.h"
#include "gen/model_files.h"

namespace pdiff {

struct TrainOptions {
  AeOptions ae;
  LdmOptions ldm;
  std::string zoo_fingerprint;  // the zoo.pt this config collects: a zoo.pt of another is refused
};

void train(const RunContext& run, const TrainOptions& opts);

}  // namespace pdiff
