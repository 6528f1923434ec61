#!/usr/bin/env python3
"""The official p-diff code's generator stages on a pdiff zoo, timed on one device: the
side-by-side figure of issue 21 (scripts/gpu_check.sh runs it next to pdiff's benchmark task).

It loads the official autoencoder (`core.module.modules.encoder.medium`) and denoiser
(`core.module.modules.unet.AE_CNN_bottleneck`) from a checkout of
NUS-HPC-AI-Lab/Neural-Network-Parameter-Diffusion (never part of pdiff: fetch it, carry it) and
drives them the way its AE_DDPM system does under Lightning (Lightning and Hydra left out, which
only removes overhead): AdamW (lr 1e-3, weight decay 2e-6), every step on the whole zoo as one
batch; first the autoencoder alone (noise 0.001 on the input, 0.5 on the latent), then DDPM on its
latents (linear betas 1e-4..2e-2 over 1000 steps, epsilon target, the latent encoded again in
every step as the official forward does) with an EMA (0.9999) updated every step; sampling is
ancestral DDPM over all 1000 steps for the generated models in one batch, then the decoder.

Training is timed over --measure steps of each phase and extrapolated to the official counts
(30 000 + 30 000, configs/system/ae_ddpm.yaml); sampling is timed whole.

Usage: official_generator.py --official DIR --zoo RUN/zoo.pt [--device cuda] [--measure 300]
                             [--samples 100] [--out FILE.json]
"""
import argparse
import importlib.util
import json
import os
import sys
import time

import torch


def load_file(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def synced_clock(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--official", required=True, help="checkout of the official p-diff code")
    ap.add_argument("--zoo", required=True, help="zoo.pt of a pdiff run")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--measure", type=int, default=300, help="training steps timed per phase")
    ap.add_argument("--official-steps", type=int, default=30000, help="steps per phase in the official config")
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--out", default="")
    args = ap.parse_args()

    modules = os.path.join(args.official, "core", "module", "modules")
    for f in ("encoder.py", "unet.py"):
        if not os.path.isfile(os.path.join(modules, f)):
            sys.exit(f"official_generator: {os.path.join(modules, f)} not found; --official must name a checkout "
                     "of NUS-HPC-AI-Lab/Neural-Network-Parameter-Diffusion")
    encoder = load_file(os.path.join(modules, "encoder.py"), "official_encoder")
    unet = load_file(os.path.join(modules, "unet.py"), "official_unet")

    device = torch.device(args.device)
    torch.manual_seed(0)
    zoo = torch.load(args.zoo, map_location="cpu", weights_only=True)
    params = zoo["params"].float().to(device)  # (K, D), raw as the official ParamDataset gives them
    k, d = params.shape
    # The official `medium` autoencoder folds by 5 four times with unpadded convolutions: below
    # D ~ 1900 its latent is one element long and its InstanceNorm refuses it in training. Such
    # zoos are zero-padded to the official config's in_dim, 2048 (the work per step is the same).
    if d < 2048:
        params = torch.cat([params, torch.zeros(k, 2048 - d, device=device)], 1)
        d = 2048

    ae = encoder.medium(d, 0.001, 0.5).to(device)
    latent_shape = ae.encode(params[:1]).shape[-2:]
    denoiser = unet.AE_CNN_bottleneck(in_dim=latent_shape[0] * latent_shape[1], in_channel=1).to(device)
    ema = unet.AE_CNN_bottleneck(in_dim=latent_shape[0] * latent_shape[1], in_channel=1).to(device)
    ema.load_state_dict(denoiser.state_dict())
    ae_opt = torch.optim.AdamW(ae.parameters(), lr=1e-3, weight_decay=2e-6)
    dm_opt = torch.optim.AdamW(denoiser.parameters(), lr=1e-3, weight_decay=2e-6)

    betas = torch.linspace(1e-4, 2e-2, 1000, dtype=torch.float64)
    alphas = 1 - betas
    ac = torch.cumprod(alphas, 0)
    ac_prev = torch.cat([torch.ones(1, dtype=torch.float64), ac[:-1]])
    post_var = betas * (1 - ac_prev) / (1 - ac)
    table = {name: t.float().to(device) for name, t in {
        "sqrt_ac": ac.sqrt(), "sqrt_1m_ac": (1 - ac).sqrt(), "sqrt_recip_ac": ac.rsqrt(),
        "sqrt_recipm1_ac": (1 / ac - 1).sqrt(), "coef1": betas * ac_prev.sqrt() / (1 - ac),
        "coef2": (1 - ac_prev) * alphas.sqrt() / (1 - ac),
        "log_var": torch.cat([post_var[1:2], betas[1:]]).log()}.items()}  # fixedlarge

    def at(name, t, x):
        return table[name][t].view(-1, *([1] * (x.dim() - 1)))

    def ae_step():
        loss = torch.nn.functional.mse_loss(ae(params), params)
        ae_opt.zero_grad()
        loss.backward()
        ae_opt.step()

    def ddpm_step():
        x0 = ae.encode(params)
        t = (torch.rand(k) * 1000).long().to(device)
        noise = torch.randn_like(x0)
        xt = at("sqrt_ac", t, x0) * x0 + at("sqrt_1m_ac", t, x0) * noise
        loss = ((noise - denoiser(xt, t)).view(k, -1) ** 2).mean(1).mean()
        dm_opt.zero_grad()
        loss.backward()
        dm_opt.step()
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), denoiser.parameters()):
                pe.mul_(0.9999).add_(pm, alpha=1 - 0.9999)

    def timed_steps(step):
        step()  # warm-up: allocations, kernel choices
        t0 = synced_clock(device)
        for _ in range(args.measure):
            step()
        return (synced_clock(device) - t0) / args.measure

    ae_s = timed_steps(ae_step)
    ddpm_s = timed_steps(ddpm_step)

    with torch.no_grad():
        ema.eval()
        t0 = synced_clock(device)
        x = torch.randn(args.samples, 1, latent_shape[0] * latent_shape[1], device=device)
        for i in reversed(range(1000)):
            t = torch.full((args.samples,), i, dtype=torch.long, device=device)
            eps = ema(x.view(args.samples, *latent_shape), t).view_as(x)
            x0 = (at("sqrt_recip_ac", t, x) * x - at("sqrt_recipm1_ac", t, x) * eps).clamp(-1, 1)
            mean = at("coef1", t, x) * x0 + at("coef2", t, x) * x
            noise = torch.randn_like(x) if i > 0 else torch.zeros_like(x)
            x = (mean + (0.5 * at("log_var", t, x)).exp() * noise).clamp(-1, 1)
        generated = ae.decode(x.view(args.samples, *latent_shape))
        sample_s = synced_clock(device) - t0
    assert generated.shape == (args.samples, d), generated.shape

    n = args.official_steps
    result = {
        "device": str(device), "torch": torch.__version__, "K": k, "D": d, "zoo_D": zoo["params"].shape[1], "latent": list(latent_shape),
        "ae_s_per_step": ae_s, "ddpm_s_per_step": ddpm_s, "measured_steps": args.measure,
        "official_steps": n, "ae_s": ae_s * n, "ddpm_s": ddpm_s * n, "sample_s": sample_s,
        "samples": args.samples, "total_s": ae_s * n + ddpm_s * n + sample_s,
    }
    print(f"  - official p-diff generator on {device} (torch {torch.__version__}), K={k}, D={d} (zoo: {result['zoo_D']}), "
          f"latent {tuple(latent_shape)}:")
    print(f"    autoencoder {ae_s * 1e3:.2f} ms/step x {n} = {ae_s * n:.1f} s; DDPM {ddpm_s * 1e3:.2f} ms/step x {n} = "
          f"{ddpm_s * n:.1f} s (extrapolated from {args.measure} steps each); sampling {args.samples} models "
          f"(DDPM 1000 steps) {sample_s:.1f} s; total {result['total_s']:.1f} s")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
