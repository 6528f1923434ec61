#!/usr/bin/python3
"""Where do a run's generated models sit, and why? (docs/novelty.md)

Reads RUN_DIR's zoo.pt, generated.pt, ae.pt and ldm.pt with Python PyTorch only (the
autoencoder is rebuilt here from its weights, as docs/formats.md describes it), and prints:
- the zoo in the autoencoder's latent space: the share of variance of the first principal
  components, and the latent norm against the training latent noise;
- the generated models' clusters (single linkage at the originals' median nearest-neighbour
  distance, in standardised parameter space) and, for each cluster, which checkpoints of the
  trajectory are nearest (checkpoint index = position along the zoo);
- how much the decoder reacts to its input: the change of the decoded vector per unit change
  of the latent, along the zoo's own latent directions and along random ones;
- the generated models re-encoded: their latents' spread against the zoo's.

Usage: /usr/bin/python3 scripts/analyze_novelty.py RUN_DIR [--json OUT]
"""
import argparse
import json
import math

import torch
import torch.nn.functional as F


def group_norm(h, w, b):
    return F.group_norm(h, math.gcd(w.numel(), 32), w, b)


class Autoencoder:
    """The 1-D conv autoencoder of src/gen/autoencoder.cpp, from ae.pt's weights."""

    def __init__(self, d):
        self.d = d
        self.ch = list(d["channels"])
        self.k = int(d["kernel"])
        self.mean = d["standardizer.mean"]
        self.std = d["standardizer.std"]
        self.dim = int(d["standardizer.padded_dim"])
        self.bottleneck = self.dim >> len(self.ch)

    def w(self, name):
        return self.d["model." + name]

    def standardize(self, x):
        z = (x - self.mean) / self.std
        return F.pad(z, (0, self.dim - z.shape[1]))

    def invert(self, z):
        return z[:, : self.mean.numel()] * self.std + self.mean

    def encode(self, x):
        h = x.unsqueeze(1)
        for i in range(len(self.ch)):
            h = F.conv1d(h, self.w(f"enc_convs.{i}.weight"), self.w(f"enc_convs.{i}.bias"), stride=2, padding=self.k // 2)
            h = F.leaky_relu(group_norm(h, self.w(f"enc_norms.{i}.weight"), self.w(f"enc_norms.{i}.bias")), 0.2)
        return F.linear(h.flatten(1), self.w("enc_fc.weight"), self.w("enc_fc.bias"))

    def decode(self, z):
        h = F.linear(z, self.w("dec_fc.weight"), self.w("dec_fc.bias")).view(z.shape[0], self.ch[-1], self.bottleneck)
        for j in range(len(self.ch)):
            h = h.repeat_interleave(2, dim=2)
            h = F.conv1d(h, self.w(f"dec_convs.{j}.weight"), self.w(f"dec_convs.{j}.bias"), padding=self.k // 2)
            h = F.elu(group_norm(h, self.w(f"dec_norms.{j}.weight"), self.w(f"dec_norms.{j}.bias")))
        return F.conv1d(h, self.w("out_conv.weight"), self.w("out_conv.bias"), padding=self.k // 2).squeeze(1)


class Denoiser:
    """The latent denoiser of src/gen/denoiser.cpp (EMA weights from ldm.pt), with DDIM sampling."""

    def __init__(self, d):
        self.d = d
        self.ch = list(d["channels"])
        self.k = int(d["kernel"])
        self.td = int(d["time_dim"])
        self.scale = float(d["latent_scale"])
        self.mean = d["latent_mean"]
        self.basis = d.get("latent_basis")  # (r, latent) with ldm.subspace = r > 0
        betas = torch.linspace(float(d["beta_start"]), float(d["beta_end"]), int(d["timesteps"]), dtype=torch.float64)
        self.ab = torch.cumprod(1 - betas, 0)

    def w(self, name):
        return self.d["ema." + name]

    def to_z(self, latents):
        c = latents - self.mean
        return (c @ self.basis.T if self.basis is not None else c) * self.scale

    def from_z(self, z):
        c = z / self.scale
        return (c @ self.basis if self.basis is not None else c) + self.mean

    def block(self, kind, i, h, temb, stride):
        h = h + F.linear(temb, self.w(f"{kind}_time.{i}.weight"), self.w(f"{kind}_time.{i}.bias")).unsqueeze(2)
        h = F.conv1d(h, self.w(f"{kind}_convs.{i}.weight"), self.w(f"{kind}_convs.{i}.bias"), stride=stride, padding=self.k // 2)
        return F.elu(group_norm(h, self.w(f"{kind}_norms.{i}.weight"), self.w(f"{kind}_norms.{i}.bias")))

    def __call__(self, x, t):
        half = self.td // 2
        freqs = torch.exp(-torch.log(torch.tensor(10000.0)) * torch.arange(half, dtype=torch.float32) / half)
        args = t.float().unsqueeze(1) * freqs.unsqueeze(0)
        temb = torch.cat([torch.sin(args), torch.cos(args)], 1)
        temb = F.linear(F.silu(F.linear(temb, self.w("time_fc1.weight"), self.w("time_fc1.bias"))),
                        self.w("time_fc2.weight"), self.w("time_fc2.bias"))
        h = x.unsqueeze(1)
        if "ema.position" in self.d:
            h = torch.cat([h, self.w("position").expand(x.shape[0], -1, -1)], 1)
        skips = []
        for i in range(len(self.ch)):
            h = self.block("enc", i, h, temb, 1 if i == 0 else 2)
            skips.append(h)
        for j in range(len(self.ch) - 1):
            skip = skips[-2 - j]
            h = h.repeat_interleave(skip.shape[2] // h.shape[2], 2)
            h = self.block("dec", j, torch.cat([h, skip], 1), temb, 1)
        return F.conv1d(h, self.w("out_conv.weight"), self.w("out_conv.bias"), padding=self.k // 2).squeeze(1)

    def sample_ddim(self, n, steps=50):
        """Unit-variance latents (the diffusion's space), as src/gen/diffusion.cpp samples them with eta 0."""
        T = self.ab.numel()
        ts = [i * T // steps for i in range(steps - 1, -1, -1)]
        x = torch.randn(n, self.basis.shape[0] if self.basis is not None else self.mean.numel())
        for k, t in enumerate(ts):
            a_t = self.ab[t].item()
            a_prev = self.ab[ts[k + 1]].item() if k + 1 < len(ts) else 1.0
            eps = self(x, torch.full((n,), t, dtype=torch.int64))
            x0 = (x - (1 - a_t) ** 0.5 * eps) / a_t**0.5
            x = a_prev**0.5 * x0 + (1 - a_prev) ** 0.5 * eps
        return x


def single_linkage(dist, threshold):
    """Connected components of the graph 'distance <= threshold'."""
    n = dist.shape[0]
    label = [-1] * n
    adj = dist <= threshold
    c = 0
    for s in range(n):
        if label[s] >= 0:
            continue
        stack = [s]
        label[s] = c
        while stack:
            i = stack.pop()
            for j in torch.nonzero(adj[i]).flatten().tolist():
                if label[j] < 0:
                    label[j] = c
                    stack.append(j)
        c += 1
    return torch.tensor(label)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run_dir")
    ap.add_argument("--json", help="write the figures here too")
    a = ap.parse_args()
    load = lambda f: torch.load(f"{a.run_dir}/{f}")
    zoo, gen, ae_d, ldm = load("zoo.pt"), load("generated.pt"), load("ae.pt"), load("ldm.pt")
    ae = Autoencoder(ae_d)
    out = {}
    torch.manual_seed(0)
    with torch.no_grad():
        xo, xg = ae.standardize(zoo["params"]), ae.standardize(gen["params"])
        k = xo.shape[0]

        # The zoo's latents.
        zo = ae.encode(xo)
        zc = zo - zo.mean(0)
        s = torch.linalg.svdvals(zc)
        share = (s**2 / (s**2).sum())[:5]
        out["latent_pc_share"] = share.tolist()
        out["latent_std"] = zc.std().item()
        out["latent_noise"] = float(ae_d["latent_noise"])
        print(f"zoo latents: std {zc.std().item():.4f} per entry (training latent noise {ae_d['latent_noise']}); "
              f"variance share of the first PCs {', '.join(f'{v:.3f}' for v in share.tolist())}")
        recon = ae.invert(ae.decode(zo))
        print(f"reconstruction RMS error {(recon - zoo['params']).pow(2).mean().sqrt().item():.4g} (raw units)")

        # Clusters of the generated models, and where along the trajectory they sit.
        do = torch.cdist(xo, xo)
        do.fill_diagonal_(float("inf"))
        nn_o = do.min(1).values
        thr = nn_o.median().item()
        dg = torch.cdist(xg, xg)
        labels = single_linkage(dg, thr)
        sizes = torch.bincount(labels).tolist()
        near = torch.cdist(xg, xo).argmin(1)
        clusters = []
        for c in sorted(range(len(sizes)), key=lambda c: -sizes[c]):
            m = labels == c
            idx = near[m].float()
            acc = gen["accuracy"][m]
            clusters.append({"size": sizes[c], "nearest_ckpt_median": idx.median().item(),
                             "nearest_ckpt_min": idx.min().item(), "nearest_ckpt_max": idx.max().item(),
                             "acc_mean": acc.mean().item()})
        out["threshold"] = thr
        out["clusters"] = clusters
        print(f"generated clusters at the originals' median NN distance {thr:.3f}: sizes {sizes if len(sizes) < 12 else sorted(sizes, reverse=True)[:12]}")
        for c in clusters[:6]:
            print(f"  {c['size']:3d} models, nearest checkpoint index median {c['nearest_ckpt_median']:.0f} "
                  f"(range {c['nearest_ckpt_min']:.0f}-{c['nearest_ckpt_max']:.0f} of 0-{k - 1}), mean accuracy {c['acc_mean']:.2f}")
        hist = torch.histc(near.float(), bins=10, min=0, max=k)
        out["nearest_ckpt_hist"] = hist.tolist()
        print("nearest checkpoint of each generated model, by tenths of the trajectory:", [int(v) for v in hist.tolist()])

        # The generated models' own spread, against the zoo's, in standardised parameter space.
        spread_o = (xo - xo.mean(0)).pow(2).sum(1).mean().sqrt().item()
        spread_g = (xg - xg.mean(0)).pow(2).sum(1).mean().sqrt().item()
        centre = (xg.mean(0) - xo.mean(0)).norm().item()
        out.update(spread_originals=spread_o, spread_generated=spread_g, centre_offset=centre)
        print(f"RMS distance to the group's centre: originals {spread_o:.3f}, generated {spread_g:.3f}; "
              f"generated centre is {centre:.3f} from the originals' centre")

        # Re-encoded generated models: is their latent spread the zoo's?
        zg = ae.encode(xg)
        u = torch.linalg.svd(zc, full_matrices=False).Vh[:2]
        po, pg = zc @ u.T, (zg - zo.mean(0)) @ u.T
        out["latent_pc_std_originals"] = po.std(0).tolist()
        out["latent_pc_std_generated"] = pg.std(0).tolist()
        print(f"latents on the zoo's first two PCs: originals std {po.std(0).tolist()}, generated std {pg.std(0).tolist()}, "
              f"generated mean {pg.mean(0).tolist()}")

        # Decoder sensitivity: output change per latent change, along the zoo's directions and random ones.
        eps = zc.std().item()
        base = zo.mean(0, keepdim=True)
        dec0 = ae.decode(base)
        along = (ae.decode(base + eps * u[:1]) - dec0).norm().item() / eps
        rnd = torch.randn(16, zo.shape[1])
        rnd = rnd / rnd.norm(dim=1, keepdim=True)
        across = ((ae.decode(base + eps * rnd) - dec0).norm(dim=1) / eps).mean().item()
        out.update(decoder_gain_pc1=along, decoder_gain_random=across)
        print(f"decoder gain |d decode| / |d z|: along the zoo's first latent PC {along:.3f}, along random directions {across:.3f}")
        # The diffusion's own samples against the zoo's latents, in its unit-variance space.
        den = Denoiser(ldm)
        zs = den.sample_ddim(100)
        zz = den.to_z(zo)
        nn_zoo = torch.cdist(zz, zz).fill_diagonal_(float("inf")).min(1).values.median().item()
        nn_s = torch.cdist(zs, zz).min(1).values.median().item()
        v = torch.linalg.svd(zz - zz.mean(0), full_matrices=False).Vh
        std_z = ((zz - zz.mean(0)) @ v[:4].T).std(0)
        std_s = ((zs - zz.mean(0)) @ v[:4].T).std(0)
        in_sub = lambda q, r: ((q - zz.mean(0)) @ v[:r].T).pow(2).sum() / (q - zz.mean(0)).pow(2).sum()
        out.update(sample_nn=nn_s, zoo_nn=nn_zoo, sample_pc_std=std_s.tolist(), zoo_pc_std=std_z.tolist(),
                   sample_share_in_zoo_top10=in_sub(zs, 10).item(), sample_rms=zs.pow(2).mean().sqrt().item(),
                   zoo_rms=zz.pow(2).mean().sqrt().item())
        print(f"diffusion samples (DDIM-50, eta 0, in Python) in its unit-variance space: median distance to the nearest zoo "
              f"latent {nn_s:.3f} (zoo to zoo {nn_zoo:.3f}); RMS {zs.pow(2).mean().sqrt().item():.3f} "
              f"(zoo {zz.pow(2).mean().sqrt().item():.3f}); std on the zoo's first 4 PCs {[round(x, 3) for x in std_s.tolist()]} "
              f"(zoo {[round(x, 3) for x in std_z.tolist()]}); share of the samples' spread inside the zoo's "
              f"top-10 PC subspace {in_sub(zs, 10).item():.3f} (zoo {in_sub(zz, 10).item():.3f})")
        sv = torch.linalg.svdvals(zs - zs.mean(0)).pow(2)
        first = zs @ torch.linalg.svd(zs - zs.mean(0), full_matrices=False).Vh[0]
        out.update(sample_first_direction_share=(sv[0] / sv.sum()).item(),
                   sample_first_direction_sides=[int((first < 0).sum()), int((first >= 0).sum())])
        print(f"  the samples' own first direction holds {(sv[0] / sv.sum()).item():.3f} of their spread; "
              f"{int((first < 0).sum())} samples on one side of it, {int((first >= 0).sum())} on the other "
              f"(|projection| median {first.abs().median().item():.1f}; the zoo's latents have norm "
              f"{zz.norm(dim=1).mean().item():.1f})")
        dec = ae.invert(ae.decode(den.from_z(zs)))
        xd = ae.standardize(dec)
        print(f"  decoded: median distance to the nearest original {torch.cdist(xd, xo).min(1).values.median().item():.3f} "
              f"(generated.pt {torch.cdist(xg, xo).min(1).values.median().item():.3f}, originals {nn_o.median().item():.3f})")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
