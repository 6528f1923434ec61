#include "gen/model_files.h"

#include <algorithm>

#include "core/error.h"
#include "core/run_context.h"
#include "gen/trainer.h"
#include "zoo/batch_schedule.h"

namespace pdiff {

namespace {
// The conv autoencoder's Linear to the latent has ~64 * D weights (4.2 M at this D).
constexpr int64_t kConvAutoencoderMaxDim = 65536;
const char* kTrainHint = "re-create it with `pdiff train`";

void save_ints(DictFile& f, const std::string& key, const std::vector<int64_t>& v) { f.set_ints(key, v); }
}  // namespace

std::string autoencoder_kind(const AeOptions& opts, int64_t dim) {
  const std::string& kind = opts.kind;
  if (kind != "auto") return kind;
  return dim <= kConvAutoencoderMaxDim ? "conv" : "tokens";
}

TokenAutoencoderConfig token_autoencoder_config(const AeOptions& opts, const ParamLayout& layout) {
  TokenAutoencoderConfig c;
  for (const auto& e : layout.entries()) c.tensor_sizes.push_back(e.numel);
  c.token = opts.token_size;
  c.hidden = opts.token_hidden;
  c.token_latent = opts.token_latent;
  c.input_noise = opts.input_noise;
  c.latent_noise = opts.latent_noise;
  return c;
}

AutoencoderConfig autoencoder_config(const AeOptions& opts, int64_t padded_dim) {
  AutoencoderConfig c;
  c.dim = padded_dim;
  c.channels = opts.channels;
  c.kernel = opts.kernel;
  c.latent = opts.latent;
  c.input_noise = opts.input_noise;
  c.latent_noise = opts.latent_noise;
  return c;
}

int64_t diffusion_subspace(const LdmOptions& opts, int64_t zoo_size, int64_t latent_size) {
  if (opts.subspace >= 0) return opts.subspace;
  // auto: 16 directions held 99.9 % of the benchmark zoo's latent variance, and more let the
  // samples run away again (docs/novelty.md). K centred latents span at most K - 1 directions.
  const int64_t multiple = int64_t{1} << (opts.channels.size() - 1);
  const int64_t n = std::min({int64_t{16}, zoo_size - 1, latent_size});
  return n / multiple * multiple;  // 0 (the whole latent) when too few directions are left
}

DenoiserConfig denoiser_config(const LdmOptions& opts, int64_t zoo_size, int64_t latent_size) {
  DenoiserConfig c;
  const int64_t subspace = diffusion_subspace(opts, zoo_size, latent_size);
  c.length = subspace > 0 ? subspace : latent_size;
  c.channels = opts.channels;
  c.kernel = opts.kernel;
  c.position = opts.position;
  return c;
}

void save_ae(const std::string& path, const AeModel& m, const std::string& config_yaml) {
  DictFile f;
  f.set("kind", m.kind);
  if (const auto* conv = dynamic_cast<const AutoencoderImpl*>(m.net.get())) {
    const auto& c = conv->config();
    f.set("dim", c.dim);
    save_ints(f, "channels", c.channels);
    f.set("kernel", c.kernel);
    f.set("latent", c.latent);
    f.set("input_noise", c.input_noise);
    f.set("latent_noise", c.latent_noise);
  } else {
    const auto& c = dynamic_cast<const TokenAutoencoderImpl&>(*m.net).config();
    f.set("token_size", c.token);
    f.set("token_hidden", c.hidden);
    f.set("token_latent", c.token_latent);
    f.set("input_noise", c.input_noise);
    f.set("latent_noise", c.latent_noise);
  }
  m.standardizer.save(f, "standardizer");
  m.layout.save(f);
  save_module(*m.net, f, "model.");
  f.set("config", config_yaml);
  f.set("zoo_fingerprint", m.zoo_fingerprint);
  f.set("fingerprint", m.fingerprint);
  f.set("train_seconds", m.train_seconds);
  f.save(path, "pdiff.ae", kAeFormatVersion);
}

AeModel load_ae(const std::string& path) {
  DictFile f = DictFile::load(path, "pdiff.ae", kAeFormatVersion, kTrainHint);
  AeModel m;
  m.kind = f.str("kind");
  m.standardizer = Standardizer::load(f, "standardizer");
  m.layout = ParamLayout::load(f);
  int64_t input_dim = 0;
  if (m.kind == "conv") {
    AutoencoderConfig c;
    c.dim = input_dim = f.integer("dim");
    c.channels = f.ints("channels");
    c.kernel = f.integer("kernel");
    c.latent = f.integer("latent");
    c.input_noise = f.number("input_noise");
    c.latent_noise = f.number("latent_noise");
    m.net = Autoencoder(c).ptr();
  } else {
    check(m.kind == "tokens", path + ": unknown autoencoder kind '" + m.kind + "'; " + kTrainHint);
    TokenAutoencoderConfig c;
    for (const auto& e : m.layout.entries()) c.tensor_sizes.push_back(e.numel);
    c.token = f.integer("token_size");
    c.hidden = f.integer("token_hidden");
    c.token_latent = f.integer("token_latent");
    c.input_noise = f.number("input_noise");
    c.latent_noise = f.number("latent_noise");
    input_dim = c.dim();
    m.net = TokenAutoencoder(c).ptr();
  }
  load_module(*m.net, f, "model.");
  m.net->eval();
  m.zoo_fingerprint = f.str("zoo_fingerprint");
  m.fingerprint = f.str("fingerprint");
  m.train_seconds = f.number("train_seconds");
  check(m.standardizer.padded_dim() == input_dim && m.standardizer.dim() == m.layout.dim(),
        path + ": standardisation does not match the autoencoder's size; " + kTrainHint);
  return m;
}

void save_ldm(const std::string& path, const LdmModel& m, const std::string& config_yaml) {
  DictFile f;
  const auto& c = m.ema->config();
  f.set("length", c.length);
  save_ints(f, "channels", c.channels);
  f.set("kernel", c.kernel);
  f.set("time_dim", c.time_dim);
  f.set("position", c.position);
  f.set("timesteps", m.schedule.timesteps);
  f.set("beta_start", m.beta_start);
  f.set("beta_end", m.beta_end);
  f.set("latent_scale", m.latent_scale);
  f.set_tensor("latent_mean", m.latent_mean);
  if (m.latent_basis.defined()) f.set_tensor("latent_basis", m.latent_basis);
  check(m.latent_min.defined() && m.latent_max.defined(), "internal: ldm.pt written without the latent range");
  f.set_tensor("latent_min", m.latent_min);
  f.set_tensor("latent_max", m.latent_max);
  m.layout.save(f);
  save_module(*m.ema, f, "ema.");
  f.set("config", config_yaml);
  f.set("ae_fingerprint", m.ae_fingerprint);
  f.set("fingerprint", m.fingerprint);
  f.set("train_seconds", m.train_seconds);
  f.save(path, "pdiff.ldm", kLdmFormatVersion);
}

LdmModel load_ldm(const std::string& path) {
  DictFile f = DictFile::load(path, "pdiff.ldm", kLdmFormatVersion, kTrainHint);
  DenoiserConfig c;
  c.length = f.integer("length");
  c.channels = f.ints("channels");
  c.kernel = f.integer("kernel");
  c.time_dim = f.integer("time_dim");
  c.position = f.integer("position");
  LdmModel m;
  m.ema = Denoiser(c);
  load_module(*m.ema, f, "ema.");
  m.ema->eval();
  m.beta_start = f.number("beta_start");
  m.beta_end = f.number("beta_end");
  m.schedule = NoiseSchedule::linear(f.integer("timesteps"), m.beta_start, m.beta_end);
  m.latent_scale = f.number("latent_scale");
  m.latent_mean = f.tensor("latent_mean");
  if (f.has("latent_basis")) {
    m.latent_basis = f.tensor("latent_basis");
    check(m.latent_basis.dim() == 2 && m.latent_basis.size(0) == c.length && m.latent_mean.dim() == 1 &&
              m.latent_basis.size(1) == m.latent_mean.size(0),
          path + ": latent_basis has shape " + c10::str(m.latent_basis.sizes()) + ", expected (" +
              std::to_string(c.length) + ", " + std::to_string(m.latent_mean.numel()) + "); " + kTrainHint);
  } else {
    check(m.latent_mean.dim() == 1 && m.latent_mean.size(0) == c.length,
          path + ": latent_mean has shape " + c10::str(m.latent_mean.sizes()) + ", expected (" +
              std::to_string(c.length) + "); " + kTrainHint);
  }
  m.latent_min = f.tensor("latent_min");
  m.latent_max = f.tensor("latent_max");
  check(m.latent_min.dim() == 1 && m.latent_min.size(0) == c.length && m.latent_max.sizes() == m.latent_min.sizes(),
        path + ": latent_min / latent_max do not match the denoiser's length; " + kTrainHint);
  m.layout = ParamLayout::load(f);
  m.ae_fingerprint = f.str("ae_fingerprint");
  m.fingerprint = f.str("fingerprint");
  m.train_seconds = f.number("train_seconds");
  return m;
}

void check_same_layout(const ParamLayout& expected, const std::string& expected_file, const ParamLayout& found,
                       const std::string& found_file) {
  std::string diff = expected.difference(found);
  check(diff.empty(), found_file + " belongs to a different zoo than " + expected_file + " (layout differs: " + diff +
                          "); re-run `pdiff train` on this zoo, or point run_dir at the run it came from");
}

torch::Tensor sample_parameters(AeModel& ae, LdmModel& ldm, const SamplingOptions& opts, int64_t first,
                                int64_t count) {
  torch::NoGradGuard ng;
  std::vector<torch::Generator> gens;
  for (int64_t i = 0; i < count; ++i) gens.push_back(make_generator(opts.seed, 300, first + i));
  // The sampler's arithmetic stays on the CPU with its noise; the nets run on their device.
  const torch::Device device = device_of(*ldm.ema), ae_device = device_of(*ae.net);
  DenoiseFn denoise = [&](const torch::Tensor& x, const torch::Tensor& t) {
    return ldm.ema->forward(x.to(device), t.to(device)).cpu();
  };
  if (opts.clip) {
    denoise = clip_clean_estimate(ldm.schedule, denoise, ldm.latent_min, ldm.latent_max);
  }
  const int64_t length = ldm.ema->config().length;
  torch::Tensor z = opts.sampler == "ddpm" ? sample_ddpm(ldm.schedule, denoise, gens, length)
                                           : sample_ddim(ldm.schedule, denoise, gens, length, opts.steps, opts.eta);
  return ae.standardizer.invert(ae.net->decode(from_diffusion_space(ldm, z).to(ae_device)).cpu());
}

torch::Tensor to_diffusion_space(const LdmModel& m, const torch::Tensor& latents) {
  auto centred = latents - m.latent_mean;
  if (m.latent_basis.defined()) centred = centred.matmul(m.latent_basis.t());
  return centred * m.latent_scale;
}

torch::Tensor from_diffusion_space(const LdmModel& m, const torch::Tensor& z) {
  auto centred = z / m.latent_scale;
  if (m.latent_basis.defined()) centred = centred.matmul(m.latent_basis);
  return centred + m.latent_mean;
}

}  // namespace pdiff
