#include "gen/train.h"

#include <cmath>
#include <cstdio>
#include <optional>

#include "core/error.h"
#include "dist/group.h"
#include "io/file_io.h"
#include "io/mapped_file.h"
#include "core/progress.h"
#include "core/run_lock.h"
#include "gen/model_files.h"
#include "gen/trainer.h"
#include "zoo/batch_schedule.h"
#include "zoo/collect.h"
#include "zoo/zoo_file.h"

namespace pdiff {

namespace {

// Rows of x chosen for one step, without replacement within the step; of them, those of `part`
// (a rank's share in data-parallel training). A zoo read from disk stays there: the rows' pages
// are released once copied (io/mapped_file.h).
torch::Tensor batch_rows(const torch::Tensor& x, int64_t batch, torch::Generator& gen, const Share& part) {
  const int64_t k = x.size(0);
  auto idx = torch::randperm(k, gen, torch::kInt64).slice(0, 0, std::min(batch, k)).slice(0, part.begin, part.end);
  auto rows = x.index_select(0, idx);
  if (is_mapped(x))
    for (int64_t i : std::vector<int64_t>(idx.data_ptr<int64_t>(), idx.data_ptr<int64_t>() + idx.numel()))
      release_pages(x[i]);
  return rows;
}

// fn(rows) on consecutive chunks of at most ~64 MB of the zoo's rows, each released after it.
template <class Fn>
void for_row_chunks(const torch::Tensor& params, Fn fn) {
  const int64_t k = params.size(0);
  const int64_t chunk = std::max<int64_t>(1, (int64_t(1) << 24) / std::max<int64_t>(params.size(1), 1));
  for (int64_t r = 0; r < k; r += chunk) {
    const torch::Tensor rows = params.slice(0, r, std::min(r + chunk, k));
    fn(rows);
    release_pages(rows);
  }
}

// The autoencoder's latent of every checkpoint (no noise), a chunk of rows at a time, on the
// CPU (the net runs on its device).
torch::Tensor encode_zoo(const AeModel& ae, const torch::Tensor& params) {
  torch::NoGradGuard ng;
  const torch::Device device = device_of(*ae.net);
  std::vector<torch::Tensor> parts;
  for_row_chunks(params, [&](const torch::Tensor& rows) {
    parts.push_back(ae.net->encode(ae.standardizer.apply(rows).to(device)).cpu());
  });
  return torch::cat(parts);
}

// An earlier output this pdiff cannot read (another format version, a damaged file) is not
// reused: the stage trains anew and replaces it.
template <class Load>
auto previous_output(const std::string& path, Load load) -> std::optional<decltype(load(path))> {
  if (!file_exists(path)) return std::nullopt;
  try {
    return load(path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "not reusing %s: %s\n", path.c_str(), e.what());
    return std::nullopt;
  }
}

AeModel train_autoencoder(const RunContext& run, const AeOptions& opts, const Zoo& zoo) {
  const std::string& dir = run.dir;
  const std::string path = dir + "/ae.pt";
  const std::string& fingerprint = opts.fingerprint;
  if (auto m = previous_output(path, load_ae);
      m && m->fingerprint == fingerprint && m->zoo_fingerprint == zoo.fingerprint) {
    std::fprintf(stderr, "ae: reusing %s\n", path.c_str());
    m->net->to(run.device);
    return *m;
  }
  Stopwatch timer;
  AeModel m;
  m.layout = zoo.layout;
  m.kind = autoencoder_kind(opts, zoo.layout.dim());
  if (m.kind == "conv") {
    AutoencoderConfig probe = autoencoder_config(opts, 0);
    m.standardizer = Standardizer(zoo.params, zoo.layout, probe.pad_multiple());
    torch::manual_seed(run.seed);
    m.net = Autoencoder(autoencoder_config(opts, m.standardizer.padded_dim())).ptr();
  } else {
    m.standardizer = Standardizer(zoo.params, zoo.layout, 1, /*centre_per_coordinate=*/true);
    torch::manual_seed(run.seed);
    m.net = TokenAutoencoder(token_autoencoder_config(opts, zoo.layout)).ptr();
  }
  m.net->to(run.device);  // initialised on the CPU: the same weights on every device
  std::fprintf(stderr, "ae: %s autoencoder (ae.kind=%s, D = %lld), %lld weights, latent %lld\n",
               m.kind == "conv" ? "conv" : "token", opts.kind.c_str(),
               static_cast<long long>(zoo.layout.dim()), static_cast<long long>(parameter_count(*m.net)),
               static_cast<long long>(m.net->latent_size()));
  const uint64_t seed = run.seed;
  const int64_t batch = opts.batch;

  TrainLoop loop;
  loop.name = "ae";
  loop.steps = opts.steps;
  loop.lr = opts.lr;
  loop.weight_decay = opts.weight_decay;
  loop.partial_path = dir + "/ae.partial.pt";
  loop.csv_path = dir + "/ae_loss.csv";
  loop.precision = run.precision;
  loop.fingerprint = fingerprint + zoo.fingerprint;
  loop.batch = std::min(batch, zoo.params.size(0));
  loop.loss = [&](int64_t step, const Share& part) {
    auto gen = make_generator(seed, 100, step);  // batch and noise depend only on the step
    auto xb = m.standardizer.apply(batch_rows(zoo.params, batch, gen, part)).to(run.device);
    return torch::mse_loss(m.net->forward_noisy(xb, gen, loop.batch, part.begin), xb);  // against the clean vector
  };
  run_training(*m.net, loop);
  m.zoo_fingerprint = zoo.fingerprint;
  m.fingerprint = fingerprint;
  m.train_seconds = timer.seconds();
  on_main_rank("train: writing ae.pt", [&] {
    torch::NoGradGuard ng;
    double sum_squares = 0;
    for_row_chunks(zoo.params, [&](const torch::Tensor& rows) {
      auto recon = m.standardizer.invert(m.net->decode(m.net->encode(m.standardizer.apply(rows).to(run.device))).cpu());
      sum_squares += (recon - rows).to(torch::kFloat64).pow(2).sum().item<double>();
    });
    std::fprintf(stderr, "ae: reconstruction RMS error %.3g (raw parameter units), %.1f s\n",
                 std::sqrt(sum_squares / static_cast<double>(zoo.params.numel())), m.train_seconds);
    save_ae(path, m, run.config_yaml);
  });
  return m;
}

void train_diffusion(const RunContext& run, const LdmOptions& opts, AeModel& ae, const Zoo& zoo) {
  const std::string& dir = run.dir;
  const std::string path = dir + "/ldm.pt";
  const std::string& fingerprint = opts.fingerprint;
  if (auto m = previous_output(path, load_ldm);
      m && m->fingerprint == fingerprint && m->ae_fingerprint == ae.fingerprint + ae.zoo_fingerprint) {
    std::fprintf(stderr, "ldm: reusing %s\n", path.c_str());
    return;
  }
  Stopwatch timer;
  const torch::Tensor latents = encode_zoo(ae, zoo.params);
  LdmModel m;
  m.layout = zoo.layout;
  m.latent_mean = latents.mean(0);                  // centred on the zoo (model_files.h)
  if (const int64_t r = diffusion_subspace(opts, latents.size(0), latents.size(1)); r > 0) {
    check(r <= std::min(latents.size(0), latents.size(1)),
          "ldm.subspace = " + std::to_string(r) + " is more than the zoo's " + std::to_string(latents.size(0)) +
              " checkpoints or the latent's " + std::to_string(latents.size(1)) +
              " entries; choose fewer, or 0 for the whole latent");
    const torch::Tensor centred = latents - m.latent_mean;
    auto svd = torch::linalg_svd(centred, /*full_matrices=*/false);
    auto vh = std::get<2>(svd).slice(0, 0, r);
    // The sign of each direction made definite (largest entry positive), so a rerun agrees.
    auto sign = torch::where(vh.gather(1, vh.abs().argmax(1, true)) < 0, -1.0, 1.0).to(vh.dtype());
    m.latent_basis = (vh * sign).contiguous();
    auto s2 = std::get<1>(svd).pow(2);
    std::fprintf(stderr, "ldm: diffusion on the zoo's first %lld latent principal directions (%.5f of its variance)\n",
                 static_cast<long long>(r), (s2.slice(0, 0, r).sum() / s2.sum().clamp_min(1e-30)).item<double>());
  } else {
    std::fprintf(stderr, "ldm: diffusion on the whole latent (%lld entries)%s\n",
                 static_cast<long long>(latents.size(1)),
                 opts.subspace < 0 ? ": ldm.subspace=auto found too few directions for the denoiser" : "");
  }
  m.latent_scale = 1;  // the spread is measured in the diffusion's coordinates before scaling
  const torch::Tensor centred = to_diffusion_space(m, latents);
  m.latent_scale = 1.0 / std::max(centred.std().item<double>(), 1e-12);  // unit variance (SPEC 2)
  const torch::Tensor z = centred * m.latent_scale;
  m.latent_min = std::get<0>(z.min(0));
  m.latent_max = std::get<0>(z.max(0));
  m.beta_start = opts.beta_start;
  m.beta_end = opts.beta_end;
  m.schedule = NoiseSchedule::linear(opts.timesteps, m.beta_start, m.beta_end);
  torch::manual_seed(run.seed + 1);
  Denoiser net(denoiser_config(opts, latents.size(0), latents.size(1)));
  m.ema = Denoiser(denoiser_config(opts, latents.size(0), latents.size(1)));
  net->to(run.device);  // initialised on the CPU: the same weights on every device
  m.ema->to(run.device);
  {
    torch::NoGradGuard ng;
    auto src = net->parameters(), dst = m.ema->parameters();
    for (size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
  }
  const uint64_t seed = run.seed;
  const int64_t batch = opts.batch, T = m.schedule.timesteps;
  const double decay = opts.ema;
  auto ema_params = m.ema->parameters();
  auto net_params = net->parameters();
  DenoiseFn denoise = [&](const torch::Tensor& x, const torch::Tensor& t) { return net->forward(x, t); };

  TrainLoop loop;
  loop.name = "ldm";
  loop.steps = opts.steps;
  loop.lr = opts.lr;
  loop.partial_path = dir + "/ldm.partial.pt";
  loop.csv_path = dir + "/ldm_loss.csv";
  loop.precision = run.precision;
  loop.fingerprint = fingerprint + ae.fingerprint + ae.zoo_fingerprint;
  loop.batch = batch;
  loop.loss = [&](int64_t step, const Share& part) {
    auto gen = make_generator(seed, 200, step);
    auto idx = torch::randint(0, z.size(0), {batch}, gen, torch::kInt64);
    auto t = torch::randint(0, T, {batch}, gen, torch::kInt64);  // one timestep per sample
    auto x0 = z.index_select(0, idx);
    auto eps = torch::randn(x0.sizes(), gen, x0.options());
    if (part.size() < batch) {  // this rank's share of the batch, drawn whole
      t = t.slice(0, part.begin, part.end);
      x0 = x0.slice(0, part.begin, part.end), eps = eps.slice(0, part.begin, part.end);
    }
    // Drawn on the CPU, trained on the device: every device sees the same batches and noise.
    return ddpm_loss(m.schedule, denoise, x0.to(run.device), t.to(run.device), eps.to(run.device));
  };
  loop.after_step = [&](int64_t step) {
    torch::NoGradGuard ng;
    // Warm-up of the decay so early EMA weights are not dominated by the initialisation.
    double d = std::min(decay, (1.0 + step) / (10.0 + step));
    for (size_t i = 0; i < ema_params.size(); ++i) ema_params[i].mul_(d).add_(net_params[i], 1 - d);
  };
  loop.save_extra = [&](DictFile& f) { save_module(*m.ema, f, "ema."); };
  loop.load_extra = [&](const DictFile& f) { load_module(*m.ema, f, "ema."); };
  run_training(*net, loop);
  m.ema->eval();
  m.ae_fingerprint = ae.fingerprint + ae.zoo_fingerprint;
  m.fingerprint = fingerprint;
  m.train_seconds = timer.seconds();
  on_main_rank("train: writing ldm.pt", [&] { save_ldm(path, m, run.config_yaml); });
  std::fprintf(stderr, "ldm: latent scale %.4g, %.1f s\n", m.latent_scale, m.train_seconds);
}

}  // namespace

void train(const RunContext& run, const TrainOptions& opts) {
  const std::string& dir = run.dir;
  RunDirLock lock(dir, /*create=*/false);
  const std::string zoo_path = dir + "/zoo.pt";
  check(file_exists(zoo_path), zoo_path + ": not found; run `pdiff collect` with this config first");
  Zoo zoo = load_zoo(zoo_path);
  check(zoo.fingerprint == opts.zoo_fingerprint,
        zoo_path + " was collected with a different config (data, model, base or zoo keys differ); "
                   "run `pdiff collect` again, or `pdiff run` which redoes what changed");
  AeModel ae = train_autoencoder(run, opts.ae, zoo);
  train_diffusion(run, opts.ldm, ae, zoo);
  // once it worked: a failed command leaves the run's config as it was
  on_main_rank("train: recording the config", [&] { record_config(dir, run.config_yaml); });
}

}  // namespace pdiff
