// The trained generative models and their files: `ae.pt` (autoencoder, standardisation and the
// layout of the zoo it was trained on) and `ldm.pt` (EMA denoiser, schedule, latent scale).
// Both carry a format version and the fingerprints of the config and zoo they belong to.
#pragma once
#include <string>
#include <vector>

#include "gen/autoencoder.h"
#include "gen/denoiser.h"
#include "gen/diffusion.h"
#include "gen/standardizer.h"
#include "gen/token_autoencoder.h"
#include "zoo/layout.h"

namespace pdiff {

inline constexpr int64_t kAeFormatVersion = 2;  // 2: kind (conv or tokens)
inline constexpr int64_t kLdmFormatVersion = 3;  // 2: latent_mean; 3: latent_min / max, position, latent_basis

struct AeModel {
  std::string kind;             // "conv" or "tokens" (ae.kind resolved)
  ParamAutoencoder net;
  Standardizer standardizer;
  ParamLayout layout;
  std::string zoo_fingerprint;  // zoo.pt it was trained on
  std::string fingerprint;      // config keys it depends on
  double train_seconds = 0;
};

struct LdmModel {
  Denoiser ema{nullptr};        // EMA weights, used for sampling
  NoiseSchedule schedule;
  double beta_start = 0, beta_end = 0;
  // Diffusion runs on (latent - latent_mean) * latent_scale: centred on the zoo's mean latent
  // and at unit variance. Without the centring a zoo whose latents sit in a tight cluster
  // away from 0 (an MLP's last layer: spread 0.01 at distance 2.5) is out of reach of the
  // convolutional denoiser, which cannot place a constant per-position offset precisely.
  torch::Tensor latent_mean;    // (latent)
  // With ldm.subspace = r > 0, diffusion runs on the r coordinates of the centred latent along
  // the zoo's first r principal directions (rows of latent_basis): the zoo's latents fill a
  // few directions, and in the others eps-prediction errors, multiplied by 1 / sqrt(alpha_bar)
  // at high noise, drive DDIM samples far out (docs/novelty.md). Undefined when r = 0.
  torch::Tensor latent_basis;   // (r, latent)
  double latent_scale = 1;
  // Each entry's range over the zoo in the diffusion's space (generate.clip).
  torch::Tensor latent_min, latent_max;  // (denoiser length: ldm.subspace, else latent)
  ParamLayout layout;
  std::string ae_fingerprint;
  std::string fingerprint;
  double train_seconds = 0;
};

// The ae.* keys: the autoencoder's shape and its training.
struct AeOptions {
  std::string kind = "auto";       // conv, tokens, or auto (by D)
  std::vector<int64_t> channels = {16, 32, 64, 64, 16};  // conv
  int64_t kernel = 7, latent = 128;                      // conv
  int64_t token_size = 256, token_hidden = 256, token_latent = 8;  // tokens
  double input_noise = 0.001, latent_noise = 0.1;
  int64_t steps = 500, batch = 50;
  double lr = 1e-3, weight_decay = 0;
  std::string fingerprint;         // of the keys ae.pt depends on (run/stage_options.h)
};

// The ldm.* keys: the denoiser's shape, the noise schedule and the training.
struct LdmOptions {
  std::vector<int64_t> channels = {16, 32, 64};
  int64_t kernel = 7;
  int64_t subspace = -1;           // principal directions diffused (0: the whole latent; -1: auto)
  int64_t position = 16;           // learned position channels
  int64_t timesteps = 1000;
  double beta_start = 1e-4, beta_end = 2e-2;
  int64_t steps = 1000, batch = 100;
  double lr = 1e-3, ema = 0.999;
  std::string fingerprint;         // of the keys ldm.pt depends on (run/stage_options.h)
};

// ae.kind resolved for a zoo of D = dim entries: conv or tokens.
std::string autoencoder_kind(const AeOptions& opts, int64_t dim);
AutoencoderConfig autoencoder_config(const AeOptions& opts, int64_t padded_dim);
TokenAutoencoderConfig token_autoencoder_config(const AeOptions& opts, const ParamLayout& layout);
// ldm.subspace resolved for zoo_size checkpoints and latents of latent_size (0: the whole latent).
int64_t diffusion_subspace(const LdmOptions& opts, int64_t zoo_size, int64_t latent_size);
// length: the subspace, else the latent.
DenoiserConfig denoiser_config(const LdmOptions& opts, int64_t zoo_size, int64_t latent_size);
// The diffusion's coordinates of latents (B, latent) and back.
torch::Tensor to_diffusion_space(const LdmModel& m, const torch::Tensor& latents);
torch::Tensor from_diffusion_space(const LdmModel& m, const torch::Tensor& z);

void save_ae(const std::string& path, const AeModel& m, const std::string& config_yaml);
AeModel load_ae(const std::string& path);
void save_ldm(const std::string& path, const LdmModel& m, const std::string& config_yaml);
LdmModel load_ldm(const std::string& path);

// Throws unless `found` equals `expected`, naming both files and what to do.
void check_same_layout(const ParamLayout& expected, const std::string& expected_file,
                       const ParamLayout& found, const std::string& found_file);

// Samples `count` parameter vectors (count, D) whose noise comes from per-model generators
// seeded by (seed, first + i): a model is the same whatever batch it is drawn in.
struct SamplingOptions {
  std::string sampler = "ddim";  // "ddpm" or "ddim"
  int64_t steps = 50;
  double eta = 0;
  uint64_t seed = 0;
  bool clip = false;             // clamp each step's clean-latent estimate to the zoo's range
};
torch::Tensor sample_parameters(AeModel& ae, LdmModel& ldm, const SamplingOptions& opts, int64_t first,
                                int64_t count);

}  // namespace pdiff
