"""Writes the files a researcher brings to pdiff from Python (issue 9), for the CLI tests:

    own_data.py dataset OUT [--train N] [--test M] [--flat]
        Fashion-MNIST's first N training and M test images as data.name=tensors expects them:
        torch.save({"train_x", "train_y", "test_x", "test_y"}, OUT), inputs uint8 [N, 28, 28]
        (--flat: float32 [N, 784] in [0, 1]), labels int64.
    own_data.py base ARCH OUT [--style plain|ordered|lightning|timm] [--train N] [--test M] [--steps S]
        Trains pdiff_models.build(ARCH, 1, 28, 10) for S SGD steps on Fashion-MNIST, normalised as
        pdiff normalises it, and saves its state dict in one of the ways Python code does:
        plain dict(model.state_dict()), ordered model.state_dict() (an OrderedDict),
        lightning {"state_dict": {"model." + name: ...}, "epoch": 1}, timm {"model": ..., "epoch": 1}.
        Prints "accuracy A" (percent, eval mode, the first M test images).

Uses Debian's python3-torch (/usr/bin/python3).
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pdiff_data  # noqa: E402
import pdiff_models  # noqa: E402

ROOT = pdiff_data.FASHION_MNIST_ROOT


def split(prefix, n):
    x = pdiff_data.read_idx(pdiff_data._idx_file(ROOT, prefix + "-images-idx3-ubyte"))[:n].clone()
    y = pdiff_data.read_idx(pdiff_data._idx_file(ROOT, prefix + "-labels-idx1-ubyte"))[:n].long()
    return x, y


def write_dataset(a):
    train_x, train_y = split("train", a.train)
    test_x, test_y = split("t10k", a.test)
    if a.flat:
        train_x, test_x = train_x.flatten(1).float() / 255, test_x.flatten(1).float() / 255
    torch.save({"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y}, a.out)


def write_base(a):
    torch.manual_seed(0)
    model = pdiff_models.build(a.arch, 1, 28, 10)
    train_x, train_y = split("train", a.train)
    train_x = pdiff_data.normalise(train_x.unsqueeze(1), *pdiff_data.NORMALISATION["fashion-mnist"])
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for step in range(a.steps):
        idx = torch.randint(0, train_x.shape[0], (64,))
        opt.zero_grad()
        F.cross_entropy(model(train_x[idx]), train_y[idx]).backward()
        opt.step()
    model.eval()
    test_x, test_y = pdiff_data.load_test("fashion-mnist", "", a.test)
    with torch.no_grad():
        acc = 100.0 * (model(test_x).argmax(1) == test_y).double().mean().item()
    sd = model.state_dict()
    if a.style == "plain":
        obj = dict(sd)
    elif a.style == "ordered":
        obj = sd
    elif a.style == "lightning":
        obj = {"state_dict": {"model." + k: v for k, v in sd.items()}, "epoch": 1}
    else:
        obj = {"model": dict(sd), "epoch": 1}
    torch.save(obj, a.out)
    print(f"accuracy {acc:.4f}")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dataset")
    d.add_argument("out")
    d.add_argument("--train", type=int, default=2000)
    d.add_argument("--test", type=int, default=500)
    d.add_argument("--flat", action="store_true")
    b = sub.add_parser("base")
    b.add_argument("arch", choices=pdiff_models.ARCHS)
    b.add_argument("out")
    b.add_argument("--style", choices=("plain", "ordered", "lightning", "timm"), default="plain")
    b.add_argument("--train", type=int, default=2000)
    b.add_argument("--test", type=int, default=500)
    b.add_argument("--steps", type=int, default=30)
    a = p.parse_args()
    write_dataset(a) if a.cmd == "dataset" else write_base(a)


if __name__ == "__main__":
    main()
