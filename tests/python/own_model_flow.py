#!/usr/bin/python3
"""Issue 9's whole check, as a researcher would do it: a PyTorch model pdiff does not know,
data from Python, checkpoints trained in Python, then pdiff, then PyTorch again.

    own_model_flow.py --pdiff BIN --work DIR --model lenet_bn|lenet_gn [--collect]
                      [--train N] [--test M] [--epochs E] [--k K] [--warmup W] [--zoo-lr LR]
                      [--export N] [KEY=VALUE ...]

1. Python: writes DIR/data.pt (Fashion-MNIST's first N training and M test images as
   data.name=tensors expects them, uint8), trains the model (own_data.py: LeNet-5 with
   BatchNorm, or a small CNN with GroupNorm and LayerNorm) for E epochs and saves
   DIR/module.pt (torch.jit.script) and DIR/base.pt (its state dict).
2. Python (unless --collect): trains only the last two normalisation layers from the base,
   W + K AdamW steps (--zoo-lr, default 1e-3: a smooth zoo, like the last epoch of a training at
   a small learning rate; weight decay 5e-4, batch 128, BatchNorm statistics frozen),
   saving each of the last K steps as DIR/ckpts/ckpt_NNN.pt: the zoo, as p-diff's protocol
   makes it (the official code saves the last iterations of a training, not its first steps).
3. pdiff: `import --from DIR/ckpts` (with --collect: pdiff collects K checkpoints itself),
   then `run` (train, generate, eval) and `export` of the first --export generated models,
   which writes each as a TorchScript module. KEY=VALUE words go to every pdiff call.
4. Python: loads every exported module with torch.jit.load and every generated vector of
   generated.pt into the module, evaluates them on the test split: each accuracy must agree
   with pdiff's within 0.05 points. Then the quality gates of the benchmark task, generated
   against the originals (zoo.pt): mean and median >= the originals' minus 0.1 points, best
   >= best original minus 0.2, none below the weakest original minus 1.
Prints a summary, writes DIR/own_model_flow.json, exits 1 when a check fails.
Uses Debian's python3-torch (/usr/bin/python3).
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
    d = torch.load(path)
    return (d[which + "_x"].float() / 255).unsqueeze(1), d[which + "_y"]


def accuracy(model, x, y):
    with torch.no_grad():
        pred = torch.cat([model(x[i:i + 1000]).argmax(1) for i in range(0, x.shape[0], 1000)])
    return 100.0 * (pred == y).double().mean().item()


def last_two_norms(model):
    return [n for n, m in model.named_modules() if isinstance(m, NORMS) and any(True for _ in m.parameters())][-2:]


def train_base(model, x, y, epochs):
    """SGD with momentum, cosine learning rate, batch 128: a plain recipe."""
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    steps = epochs * (x.shape[0] // 128)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    gen = torch.Generator().manual_seed(0)
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


def train_zoo(model, x, y, lr, warmup, k, out_dir):
    """The last two normalisation layers only, one checkpoint per step (p-diff's protocol)."""
    norms = last_two_norms(model)
    for p in model.parameters():
        p.requires_grad_(False)
    params = [p for n, p in model.named_parameters() if any(n.startswith(m + ".") for m in norms)]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=5e-4)
    gen = torch.Generator().manual_seed(1)
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


def gates(gen, orig):
    g, o = gen.double(), orig.double()
    checks = {
        "mean": (g.mean().item(), o.mean().item() - 0.1),
        "median": (g.median().item(), o.median().item() - 0.1),
        "best": (g.max().item(), o.max().item() - 0.2),
        "min": (g.min().item(), o.min().item() - 1.0),
    }
    return {k: {"generated": v, "limit": lim, "ok": v >= lim} for k, (v, lim) in checks.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pdiff", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--model", choices=("lenet_bn", "lenet_gn"), default="lenet_bn")
    ap.add_argument("--collect", action="store_true", help="pdiff collects the zoo (no import)")
    ap.add_argument("--train", type=int, default=60000)
    ap.add_argument("--test", type=int, default=10000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--k", type=int, default=30, help="checkpoints (--collect: pdiff's zoo.k)")
    ap.add_argument("--warmup", type=int, default=0, help="subset steps before the first saved checkpoint")
    ap.add_argument("--zoo-lr", type=float, default=1e-3, help="AdamW learning rate of the subset")
    ap.add_argument("--export", type=int, default=5)
    ap.add_argument("settings", nargs="*", help="KEY=VALUE for every pdiff call")
    a = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    os.makedirs(a.work, exist_ok=True)
    log = os.path.join(a.work, "pdiff.log")
    data, module_file, base_file = (os.path.join(a.work, f) for f in ("data.pt", "module.pt", "base.pt"))
    ckpts, run = os.path.join(a.work, "ckpts"), os.path.join(a.work, "run")
    times = {}

    t0 = time.time()
    write_data(data, a.train, a.test)
    train_x, train_y = load_split(data, "train")
    test_x, test_y = load_split(data, "test")
    model = {"lenet_bn": own_data.LeNetBN, "lenet_gn": own_data.SmallGN}[a.model]()
    train_base(model, train_x, train_y, a.epochs)
    base_acc = accuracy(model, test_x, test_y)
    torch.jit.script(model).save(module_file)
    torch.save(dict(model.state_dict()), base_file)
    if not a.collect:
        shutil.rmtree(ckpts, ignore_errors=True)
        norms = train_zoo(model, train_x, train_y, a.zoo_lr, a.warmup, a.k, ckpts)
    times["python"] = time.time() - t0
    print(f"python: {a.model} base {base_acc:.2f} % after {a.epochs} epochs on {a.train} images"
          + ("" if a.collect else f", {a.k} checkpoints of {norms}") + f" ({times['python']:.0f} s)")

    words = [f"run_dir={run}", "model.arch=torchscript", f"model.file={module_file}", "data.name=tensors",
             f"data.file={data}", f"base.file={base_file}", f"zoo.k={a.k}"] + a.settings
    shutil.rmtree(run, ignore_errors=True)
    if not a.collect:
        times["import"] = pdiff(a.pdiff, ["import", "--from", ckpts] + words, log)
        words.append(f"zoo.import={ckpts}")
    times["run"] = pdiff(a.pdiff, ["run"] + words, log)
    for i in range(a.export):
        pdiff(a.pdiff, ["export", "--index", str(i)] + words, log)

    failures = []
    zoo, gen = torch.load(os.path.join(run, "zoo.pt")), torch.load(os.path.join(run, "generated.pt"))
    module = torch.jit.load(module_file)
    module.load_state_dict(torch.load(os.path.join(run, "base.pt")))
    module.eval()
    worst = {"exported": 0.0, "generated": 0.0, "originals": 0.0}
    for i in range(a.export):
        m = torch.jit.load(os.path.join(run, f"generated_{i}.script.pt"))
        m.eval()
        worst["exported"] = max(worst["exported"], abs(accuracy(m, test_x, test_y) - float(gen["accuracy"][i])))
    for label, g in (("generated", gen), ("originals", zoo)):
        for k in range(g["params"].shape[0]):
            put_vector(module, g["params"][k], g)
            worst[label] = max(worst[label], abs(accuracy(module, test_x, test_y) - float(g["accuracy"][k])))
    for label, w in worst.items():
        if w >= TOLERANCE:
            failures.append(f"{label}: PyTorch and pdiff accuracies differ by {w:.4f} points")
    g = gates(gen["accuracy"], zoo["accuracy"])
    failures += [f"gate {k}: generated {v['generated']:.2f} < {v['limit']:.2f}" for k, v in g.items() if not v["ok"]]

    o, n = zoo["accuracy"].double(), gen["accuracy"].double()
    summary = {
        "model": a.model, "mode": "collect" if a.collect else "import", "train": a.train, "test": a.test,
        "k": int(o.shape[0]), "d": int(zoo["params"].shape[1]), "base": base_acc,
        "original": {"best": o.max().item(), "mean": o.mean().item(), "median": o.median().item(), "min": o.min().item()},
        "generated": {"n": int(n.shape[0]), "best": n.max().item(), "mean": n.mean().item(),
                      "median": n.median().item(), "min": n.min().item()},
        "max_difference": worst, "gates": g, "seconds": times, "failures": failures,
    }
    with open(os.path.join(a.work, "own_model_flow.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"{a.model} ({summary['mode']}): D = {summary['d']}, K = {summary['k']}, "
          f"originals best/mean/median/min {o.max():.2f}/{o.mean():.2f}/{o.median():.2f}/{o.min():.2f}, "
          f"generated {n.max():.2f}/{n.mean():.2f}/{n.median():.2f}/{n.min():.2f}")
    print("max |PyTorch - pdiff| (points): " + ", ".join(f"{k} {v:.4f}" for k, v in worst.items()))
    print("seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in times.items()))
    if failures:
        print("own_model_flow: FAILED\n  " + "\n  ".join(failures))
        sys.exit(1)
    print("own_model_flow: OK")


if __name__ == "__main__":
    main()
