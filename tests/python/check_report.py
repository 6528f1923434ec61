#!/usr/bin/python3
"""Recomputes report.json's accuracies and similarities from zoo.pt and generated.pt in PyTorch.

Usage: /usr/bin/python3 check_report.py RUN_DIR
Accuracy statistics of the originals and generated models, the IoU similarities and every
group's max-similarity for these two groups, and the nearest-neighbour L2 medians must agree
with report.json (1e-6 relative). So must the fidelity figures of these two groups in both
spaces (precision, recall, density, coverage, modes; the mode thresholds), written here from
their definitions (Kynkaanniemi et al. 2019, Naeem et al. 2020), and every baseline's dominance
result must follow from the report's means. Exits non-zero on any mismatch.
"""
import json
import os
import sys

import torch


def knn_radii(d, k):
    """Distance from each point to its k-th nearest other point; NaN when there are k or fewer."""
    n = d.shape[0]
    if n <= k:
        return torch.full((n,), float("nan"), dtype=torch.float64)
    d = d.clone()
    d.fill_diagonal_(float("inf"))
    return d.kthvalue(k, dim=1).values


def modes(d, threshold):
    """Connected components of {distance <= threshold}; -1 when the threshold is NaN."""
    if threshold != threshold:
        return -1
    n = d.shape[0]
    near = (d <= threshold).tolist()
    seen, count = [False] * n, 0
    for start in range(n):
        if seen[start]:
            continue
        count += 1
        seen[start], stack = True, [start]
        while stack:
            i = stack.pop()
            for j in range(n):
                if near[i][j] and not seen[j]:
                    seen[j] = True
                    stack.append(j)
    return count


def prdc(rr, ff, fr, k):
    """Precision, recall, density, coverage and modes of fake against real from distances
    real-real (K, K), fake-fake (M, M), fake-real (M, K). Balls are closed."""
    nan = float("nan")
    K, M = rr.shape[0], ff.shape[0]
    r = knn_radii(rr, k)
    if K <= k:
        return {"precision": nan, "recall": nan, "density": nan, "coverage": nan, "modes": -1}
    inside = fr <= r.unsqueeze(0)                      # model j inside original i's ball
    out = {"precision": inside.any(1).double().mean().item(),
           "density": inside.sum().item() / (k * M),
           "coverage": (fr.min(0).values <= r).double().mean().item(),
           "recall": nan}
    if M > k:
        s = knn_radii(ff, k)
        out["recall"] = (fr <= s.unsqueeze(1)).any(0).double().mean().item()
    out["modes"] = modes(ff, r.median().item())
    return out


def check_fidelity(zoo, gen, wrong_o, wrong_g, rep, close, failures):
    """Fidelity of the originals (each left out of its own comparison) and of the generated
    models, in parameter space (L2 after dividing each tensor by its std over the originals,
    as pdiff's Standardizer) and in prediction space (1 - IoU of wrong sets)."""
    k = rep["fidelity"]["k"]
    po, pg = zoo["params"].double(), gen["params"].double()
    scale = torch.empty(po.shape[1], dtype=torch.float32)   # the Standardizer stores float32
    for name, shape, off in zip(zoo["names"], zoo["shapes"], zoo["offsets"]):
        n = 1
        for d in shape:
            n *= d
        block = po[:, off : off + n]
        std = block.std().item() if block.numel() > 1 else 0.0
        scale[off : off + n] = std if std > 1e-8 else 1.0
    scale = scale.double()

    def self_dist(d):
        d = (d + d.T) / 2
        d.fill_diagonal_(0)
        return d

    def jaccard(a, b):
        a, b = a.double(), b.double()
        inter = a @ b.T
        union = a.sum(1, keepdim=True) + b.sum(1) - inter
        return torch.where(union > 0, 1.0 - inter / union.clamp(min=1), torch.zeros_like(inter))

    so, sg = po / scale, pg / scale
    spaces = {
        "param": (self_dist(torch.cdist(so, so)), self_dist(torch.cdist(sg, sg)), torch.cdist(sg, so)),
        "pred": (jaccard(wrong_o, wrong_o), jaccard(wrong_g, wrong_g), jaccard(wrong_g, wrong_o)),
    }
    for space, (rr, gg, gr) in spaces.items():
        threshold = knn_radii(rr, k)
        threshold = threshold.median().item() if not threshold.isnan().any() else float("nan")
        got = rep["fidelity"][f"{space}_mode_threshold"]
        if threshold == threshold:
            close(f"fidelity.{space}_mode_threshold", got, threshold)
        elif got is not None:
            failures.append(f"fidelity.{space}_mode_threshold: report {got}, undefined here")
        left_out = rr.clone()
        left_out.fill_diagonal_(float("inf"))
        for group, want in (("original", prdc(rr, rr, left_out, k)), ("generated", prdc(rr, gg, gr, k))):
            have = rep["groups"][group]["fidelity"][space]
            for key, v in want.items():
                name = f"{group}.fidelity.{space}.{key}"
                if key == "modes":
                    if have[key] != (v if v >= 0 else None):
                        failures.append(f"{name}: report {have[key]} vs recomputed {v}")
                elif v != v:
                    if have[key] is not None:
                        failures.append(f"{name}: report {have[key]}, undefined here")
                else:
                    close(name, have[key], v)


def check_dominance(rep, failures):
    """Each baseline's result follows from the means: dominates when the generated mean accuracy
    is >= and the mean max-IoU <=; dominated when the baseline is >= and <= (one strict)."""
    groups = rep["groups"]
    acc, sim = groups["generated"]["acc"]["mean"], groups["generated"]["max_sim"]["mean"]
    baselines = [g for g in groups if g not in ("original", "generated", "ensemble")]
    table = rep["dominance"]["generated_vs"]
    if sorted(table) != sorted(baselines):
        failures.append(f"dominance: baselines {sorted(table)} vs groups {sorted(baselines)}")
    for name in baselines:
        b_acc, b_sim = groups[name]["acc"]["mean"], groups[name]["max_sim"]["mean"]
        want = ("dominates" if acc >= b_acc and sim <= b_sim else
                "dominated" if b_acc >= acc and b_sim <= sim else "neither")
        if table.get(name, {}).get("result") != want:
            failures.append(f"dominance.{name}: report {table.get(name)} vs {want}")
        if name not in rep["dominance"]["verdict"]:
            failures.append(f"dominance verdict does not name {name}")


def main():
    run_dir = sys.argv[1]
    zoo = torch.load(os.path.join(run_dir, "zoo.pt"), weights_only=True)
    gen = torch.load(os.path.join(run_dir, "generated.pt"), weights_only=True)
    rep = json.load(open(os.path.join(run_dir, "report.json")))
    failures = []

    def close(name, got, want):
        if got is None or abs(got - want) > 1e-6 * max(1.0, abs(want)):
            failures.append(f"{name}: report {got} vs recomputed {want}")

    # Labels are not stored; recover them: accuracy * N = correct count, and predictions
    # of the test set come from the IDX file.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from check_zoo import find, read_idx
    n_test = zoo["predictions"].shape[1]
    labels = read_idx(find("/usr/share/datasets/fashion-mnist", "t10k-labels-idx1-ubyte"))[:n_test].long()

    def stats(acc):
        a = acc.double()
        s = a.sort().values
        n = len(s)
        median = s[n // 2].item() if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2]).item()
        return {"best": a.max().item(), "mean": a.mean().item(), "median": median, "min": a.min().item(),
                "std": a.std().item() if n > 1 else 0.0}

    wrong_o = zoo["predictions"].long() != labels
    wrong_g = gen["predictions"].long() != labels

    def iou(a, b):
        a, b = a.double(), b.double()
        inter = a @ b.T
        union = a.sum(1, keepdim=True) + b.sum(1) - inter
        return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(inter))

    for group, acc, preds in (("original", zoo["accuracy"], zoo["predictions"]),
                              ("generated", gen["accuracy"], gen["predictions"])):
        recomputed = 100.0 * (preds.long() == labels).double().mean(1)
        if (recomputed - acc.double()).abs().max().item() > 1e-3:
            failures.append(f"{group}: stored accuracy disagrees with stored predictions")
        for k, v in stats(acc).items():
            close(f"{group}.acc.{k}", rep["groups"][group]["acc"][k], v)

    oo, gg, og = iou(wrong_o, wrong_o), iou(wrong_g, wrong_g), iou(wrong_o, wrong_g)
    K, N = oo.shape[0], gg.shape[0]
    off = lambda m: ((m.sum() - m.diagonal().sum()) / (m.shape[0] * (m.shape[0] - 1))).item()
    close("similarity.origin_origin", rep["similarity"]["origin_origin"], off(oo))
    close("similarity.generated_generated", rep["similarity"]["generated_generated"], off(gg))
    close("similarity.origin_generated", rep["similarity"]["origin_generated"], og.mean().item())
    gen_max = og.max(0).values.mean().item()
    close("similarity.generated_max", rep["similarity"]["generated_max"], gen_max)
    close("generated.max_sim.mean", rep["groups"]["generated"]["max_sim"]["mean"], gen_max)
    oo_self = oo.clone()
    oo_self.fill_diagonal_(-1)
    close("original.max_sim.mean", rep["groups"]["original"]["max_sim"]["mean"], oo_self.max(1).values.mean().item())

    po, pg = zoo["params"].double(), gen["params"].double()
    d_oo = torch.cdist(po, po)
    d_oo.fill_diagonal_(float("inf"))
    close("original.nn_l2.median", rep["groups"]["original"]["nn_l2"]["median"], d_oo.min(1).values.median().item())
    close("generated.nn_l2.median", rep["groups"]["generated"]["nn_l2"]["median"],
          torch.cdist(pg, po).min(1).values.median().item())
    check_fidelity(zoo, gen, wrong_o, wrong_g, rep, close, failures)
    check_dominance(rep, failures)

    # The ensemble is the mean of the originals: its accuracy is one model's.
    if rep["groups"]["ensemble"]["n"] != 1:
        failures.append("ensemble must be one model")
    for f in failures:
        print("MISMATCH: " + f, file=sys.stderr)
    print("check_report: " + ("OK" if not failures else f"{len(failures)} mismatch(es)"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
