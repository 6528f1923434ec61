#!/usr/bin/python3
"""Recomputes report.json's accuracies and similarities from zoo.pt and generated.pt in PyTorch.

Usage: /usr/bin/python3 check_report.py RUN_DIR
Accuracy statistics of the originals and generated models, the IoU similarities and every
group's max-similarity for these two groups, and the nearest-neighbour L2 medians must agree
with report.json (1e-6 relative). Exits non-zero on any mismatch.
"""
import json
import os
import sys

import torch


def main():
    run_dir = sys.argv[1]
    zoo = torch.load(os.path.join(run_dir, "zoo.pt"))
    gen = torch.load(os.path.join(run_dir, "generated.pt"))
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
    # The ensemble is the mean of the originals: its accuracy is one model's.
    if rep["groups"]["ensemble"]["n"] != 1:
        failures.append("ensemble must be one model")
    for f in failures:
        print("MISMATCH: " + f, file=sys.stderr)
    print("check_report: " + ("OK" if not failures else f"{len(failures)} mismatch(es)"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
