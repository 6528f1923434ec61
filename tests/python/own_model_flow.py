#!/usr/bin/python3
"""Issue 9's whole check, as a researcher would do it: a PyTorch model pdiff does not know,
data from Python, checkpoints trained in Python, then pdiff, then PyTorch again.

    own_model_flow.py --pdiff BIN --work DIR --model lenet_bn|lenet_gn [--modes import,collect]
                      [--train N] [--test M] [--epochs E] [--k K] [--warmup W] [--zoo-lr LR]
                      [--export N] [--check-generated N] [--check-originals N] [--seed S] [--python-threads T] [--margins MEAN,MEDIAN,BEST,MIN]
                      [--report-only] [KEY=VALUE ...]

1. Python (once for every mode): writes DIR/data.pt (Fashion-MNIST's first N training and M
   test images as data.name=tensors expects them, uint8), trains the model (own_data.py:
   LeNet-5 with BatchNorm, or a small CNN with GroupNorm and LayerNorm) for E epochs and saves
   DIR/module.pt (torch.jit.script) and DIR/base.pt (its state dict).
2. Python (mode import): trains only the last two normalisation layers from the base,
   W + K AdamW steps (--zoo-lr, default 1e-3: a smooth zoo, like the last epoch of a training at
   a small learning rate; weight decay 5e-4, batch 128, BatchNorm statistics frozen),
   saving each of the last K steps as DIR/ckpts/ckpt_NNN.pt: the zoo, as p-diff's protocol
   makes it (the official code saves the last iterations of a training, not its first steps).
3. pdiff, in DIR/MODE/run: `import --from DIR/ckpts` (mode collect: pdiff collects K
   checkpoints itself), then `run` (train, generate, eval) and `export` of the first --export
   generated models, which writes each as a TorchScript module. KEY=VALUE words go to every
   pdiff call; --seed S seeds Python's training and pdiff's (seed=S generate.seed=S).
4. Python: loads every exported module with torch.jit.load and the generated vectors of
   generated.pt (the first --check-generated, default all) and the checkpoints of zoo.pt (the
   first --check-originals, default all) into the module, evaluates them on the test split: each accuracy must agree
   with pdiff's within 0.05 points (exact: the same weights on the same images). Then the
   quality gates, generated against the originals (zoo.pt): mean and median >= the originals'
   minus MEAN and MEDIAN points, best >= best original minus BEST, none below the weakest
   original minus MIN. The default margins are the benchmark task's targets (0.1,0.1,0.2,1);
   the test suite passes wider ones, measured from the spread of the flows over seeds and
   thread counts (docs/benchmarks.md). --report-only prints the gates without failing on them.
Prints a summary, writes DIR/MODE/own_model_flow.json, exits 1 when a check fails.
Uses Debian's python3-torch (/usr/bin/python3) or any PyTorch >= 1.13.
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import own_data  # noqa: E402

TOLERANCE = 0.05  # accuracy points
NORMS = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.GroupNorm, torch.nn.LayerNorm)


def write_data(path, n_train, n_test):
    train_x, train_y = own_data.split("train", n_train)
    test_x, test_y = own_data.split("t10k", n_test)
    torch.save({"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y}, path)


def load_split(path, which):
    d = torch.load(path, weights_only=True)
    return (d[which + "_x"].float() / 255).unsqueeze(1), d[which + "_y"]


def accuracy(model, x, y):
    with torch.no_grad():
        pred = torch.cat([model(x[i:i + 1000]).argmax(1) for i in range(0, x.shape[0], 1000)])
    return 100.0 * (pred == y).double().mean().item()


def last_two_norms(model):
    return [n for n, m in model.named_modules() if isinstance(m, NORMS) and any(True for _ in m.parameters())][-2:]


def train_base(model, x, y, epochs, seed):
    """SGD with momentum, cosine learning rate, batch 128: a plain recipe."""
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    steps = epochs * (x.shape[0] // 128)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(x.shape[0], generator=gen)
        for i in range(0, x.shape[0] - 127, 128):
            idx = order[i:i + 128]
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
            sched.step()
    model.eval()


def train_zoo(model, x, y, lr, warmup, k, out_dir, seed):
    """The last two normalisation layers only, one checkpoint per step (p-diff's protocol)."""
    norms = last_two_norms(model)
    for p in model.parameters():
        p.requires_grad_(False)
    params = [p for n, p in model.named_parameters() if any(n.startswith(m + ".") for m in norms)]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=5e-4)
    gen = torch.Generator().manual_seed(seed + 1)
    model.eval()  # BatchNorm statistics stay the base's: everything outside the subset is shared
    os.makedirs(out_dir, exist_ok=True)
    for step in range(warmup + k):
        idx = torch.randint(0, x.shape[0], (128,), generator=gen)
        opt.zero_grad()
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
        if step >= warmup:
            torch.save(dict(model.state_dict()), os.path.join(out_dir, f"ckpt_{step - warmup:03d}.pt"))
    return norms


def pdiff(binary, words, log):
    t0 = time.time()
    r = subprocess.run([binary] + words, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with open(log, "a") as f:
        f.write(f"$ pdiff {' '.join(words)}\n{r.stdout}\n")
    if r.returncode != 0:
        sys.exit(f"own_model_flow: pdiff {words[0]} failed ({r.returncode}):\n" + "\n".join(r.stdout.splitlines()[-15:]))
    return time.time() - t0


def put_vector(module, vec, g):
    tensors = dict(module.named_parameters())
    tensors.update(dict(module.named_buffers()))
    with torch.no_grad():
        for name, shape, off in zip(g["names"], g["shapes"], g["offsets"]):
            shape = [int(d) for d in shape]
            n = math.prod(shape)
            tensors[name].copy_(vec[int(off):int(off) + n].view(shape))


PAPER_MARGINS = (0.1, 0.1, 0.2, 1.0)  # the benchmark task's targets: mean, median, best, min


def gates(gen, orig, margins):
    g, o = gen.double(), orig.double()
    m_mean, m_median, m_best, m_min = margins
    checks = {
        "mean": (g.mean().item(), o.mean().item() - m_mean),
        "median": (g.median().item(), o.median().item() - m_median),
        "best": (g.max().item(), o.max().item() - m_best),
        "min": (g.min().item(), o.min().item() - m_min),
    }
    return {k: {"generated": v, "limit": lim, "margin": m, "ok": v >= lim}
            for (k, (v, lim)), m in zip(checks.items(), margins)}


def check_run(a, mode, run, log, words, test_x, test_y, module_file, base_acc, times):
    """pdiff's run of one mode, then PyTorch on every vector it wrote; returns the failures."""
    shutil.rmtree(run, ignore_errors=True)
    if mode == "import":
        ckpts = os.path.join(a.work, "ckpts")
        times["import"] = pdiff(a.pdiff, ["import", "--from", ckpts] + words, log)
        words = words + [f"zoo.import={ckpts}"]
    times["run"] = pdiff(a.pdiff, ["run"] + words, log)
    times["export"] = sum(pdiff(a.pdiff, ["export", "--index", str(i)] + words, log) for i in range(a.export))
    t0 = time.time()

    failures = []
    zoo = torch.load(os.path.join(run, "zoo.pt"), weights_only=True)
    gen = torch.load(os.path.join(run, "generated.pt"), weights_only=True)
    module = torch.jit.load(module_file)
    module.load_state_dict(torch.load(os.path.join(run, "base.pt"), weights_only=True))
    module.eval()
    worst = {"exported": 0.0, "generated": 0.0, "originals": 0.0}
    for i in range(a.export):
        m = torch.jit.load(os.path.join(run, f"generated_{i}.script.pt"))
        m.eval()
        worst["exported"] = max(worst["exported"], abs(accuracy(m, test_x, test_y) - float(gen["accuracy"][i])))
    for label, g, n in (("generated", gen, a.check_generated), ("originals", zoo, a.check_originals)):
        for k in range(g["params"].shape[0] if n is None else min(n, g["params"].shape[0])):
            put_vector(module, g["params"][k], g)
            worst[label] = max(worst[label], abs(accuracy(module, test_x, test_y) - float(g["accuracy"][k])))
    for label, w in worst.items():
        if w >= TOLERANCE:
            failures.append(f"{label}: PyTorch and pdiff accuracies differ by {w:.4f} points")
    times["python_check"] = time.time() - t0
    g = gates(gen["accuracy"], zoo["accuracy"], a.margins)
    gate_failures = [f"gate {k}: generated {v['generated']:.2f} < {v['limit']:.2f} (margin {v['margin']})"
                     for k, v in g.items() if not v["ok"]]
    if not a.report_only:
        failures += gate_failures

    o, n = zoo["accuracy"].double(), gen["accuracy"].double()
    summary = {
        "model": a.model, "mode": mode, "seed": a.seed, "python_threads": a.python_threads,
        "train": a.train, "test": a.test,
        "k": int(o.shape[0]), "d": int(zoo["params"].shape[1]), "base": base_acc,
        "original": {"best": o.max().item(), "mean": o.mean().item(), "median": o.median().item(), "min": o.min().item()},
        "generated": {"n": int(n.shape[0]), "best": n.max().item(), "mean": n.mean().item(),
                      "median": n.median().item(), "min": n.min().item()},
        "max_difference": worst, "gates": g, "seconds": times, "failures": failures,
    }
    with open(os.path.join(a.work, mode, "own_model_flow.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"{a.model} ({mode}, seed {a.seed}): D = {summary['d']}, K = {summary['k']}, "
          f"originals best/mean/median/min {o.max():.2f}/{o.mean():.2f}/{o.median():.2f}/{o.min():.2f}, "
          f"generated {n.max():.2f}/{n.mean():.2f}/{n.median():.2f}/{n.min():.2f}")
    print("generated - originals (points): " + ", ".join(f"{k} {v['generated'] - v['limit'] - v['margin']:+.2f}"
                                                         for k, v in g.items()))
    print("max |PyTorch - pdiff| (points): " + ", ".join(f"{k} {v:.4f}" for k, v in worst.items()))
    print("seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in times.items()))
    for line in gate_failures if a.report_only else []:
        print("  (report only) " + line)
    return failures


def margins(text):
    m = tuple(float(v) for v in text.split(","))
    if len(m) != 4:
        raise argparse.ArgumentTypeError("--margins takes four numbers: MEAN,MEDIAN,BEST,MIN")
    return m


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pdiff", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--model", choices=("lenet_bn", "lenet_gn"), default="lenet_bn")
    ap.add_argument("--modes", default="import",
                    help="comma-separated: import (Python's checkpoints), collect (pdiff collects the zoo)")
    ap.add_argument("--train", type=int, default=60000)
    ap.add_argument("--test", type=int, default=10000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--k", type=int, default=30, help="checkpoints (collect: pdiff's zoo.k)")
    ap.add_argument("--warmup", type=int, default=0, help="subset steps before the first saved checkpoint")
    ap.add_argument("--zoo-lr", type=float, default=1e-3, help="AdamW learning rate of the subset")
    ap.add_argument("--export", type=int, default=5)
    ap.add_argument("--check-generated", type=int, default=None,
                    help="re-evaluate only the first N vectors of generated.pt in PyTorch (default: all)")
    ap.add_argument("--check-originals", type=int, default=None,
                    help="re-evaluate only the first N checkpoints of zoo.pt in PyTorch (default: all)")
    ap.add_argument("--seed", type=int, default=0, help="Python's training seeds and pdiff's seed, generate.seed")
    ap.add_argument("--python-threads", type=int, default=int(os.environ.get("PDIFF_PYTHON_THREADS", "2")),
                    help="torch.set_num_threads on the Python side (default: $PDIFF_PYTHON_THREADS or 2)")
    ap.add_argument("--margins", type=margins, default=PAPER_MARGINS,
                    help="points below the originals' mean, median, best, min that the generated may fall")
    ap.add_argument("--report-only", action="store_true", help="print the quality gates, fail only on exact checks")
    ap.add_argument("settings", nargs="*", help="KEY=VALUE for every pdiff call")
    a = ap.parse_args()
    modes = a.modes.split(",")
    if not modes or any(m not in ("import", "collect") for m in modes):
        ap.error(f"--modes {a.modes}: use import, collect or import,collect")
    torch.set_num_threads(a.python_threads)
    torch.manual_seed(a.seed)
    os.makedirs(a.work, exist_ok=True)
    data, module_file, base_file = (os.path.join(a.work, f) for f in ("data.pt", "module.pt", "base.pt"))
    times = {}

    t0 = time.time()
    write_data(data, a.train, a.test)
    train_x, train_y = load_split(data, "train")
    test_x, test_y = load_split(data, "test")
    model = {"lenet_bn": own_data.LeNetBN, "lenet_gn": own_data.SmallGN}[a.model]()
    train_base(model, train_x, train_y, a.epochs, a.seed)
    base_acc = accuracy(model, test_x, test_y)
    torch.jit.script(model).save(module_file)
    torch.save(dict(model.state_dict()), base_file)
    norms = None
    if "import" in modes:
        ckpts = os.path.join(a.work, "ckpts")
        shutil.rmtree(ckpts, ignore_errors=True)
        norms = train_zoo(model, train_x, train_y, a.zoo_lr, a.warmup, a.k, ckpts, a.seed)
    times["python"] = time.time() - t0
    print(f"python: {a.model} base {base_acc:.2f} % after {a.epochs} epochs on {a.train} images"
          + ("" if norms is None else f", {a.k} checkpoints of {norms}") + f" ({times['python']:.0f} s)")

    failures = []
    for mode in modes:
        run = os.path.join(a.work, mode, "run")
        os.makedirs(os.path.dirname(run), exist_ok=True)
        log = os.path.join(a.work, mode, "pdiff.log")
        words = [f"run_dir={run}", "model.arch=torchscript", f"model.file={module_file}", "data.name=tensors",
                 f"data.file={data}", f"base.file={base_file}", f"zoo.k={a.k}", f"seed={a.seed}",
                 f"generate.seed={a.seed}"] + a.settings
        failures += [f"{mode}: {f}" for f in
                     check_run(a, mode, run, log, words, test_x, test_y, module_file, base_acc, dict(times))]
    if failures:
        print("own_model_flow: FAILED\n  " + "\n  ".join(failures))
        sys.exit(1)
    print("own_model_flow: OK")


if __name__ == "__main__":
    main()
