#!/usr/bin/python3
"""Checks a run directory written by `pdiff collect` for the fmnist-convnet4 task from PyTorch.

Usage: /usr/bin/python3 check_zoo.py RUN_DIR DATA_ROOT TEST_LIMIT

Loads zoo.pt and base.pt with torch.load, checks the zoo's keys, dtypes, shapes and layout,
builds ConvNet-4 exactly as SPEC section 5 describes, loads base.pt with strict=True, puts
every checkpoint into bn3/bn4 by the layout, evaluates it on the first TEST_LIMIT test images
(read from the IDX files here, normalised with mean 0.2860, std 0.3530) and requires the
accuracies to agree with zoo.pt's within 0.05 points. Exits non-zero on any mismatch.
Uses Debian's python3-torch (run it with /usr/bin/python3).
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

FAILURES = []


def check(cond, message):
    if not cond:
        FAILURES.append(message)
        print("MISMATCH: " + message, file=sys.stderr)
    return cond


class ConvNet4(nn.Module):
    """SPEC section 5: four Conv3x3(no bias)-BN-ReLU blocks, 32/64/128/256 channels,
    MaxPool2d(2) after blocks 1-3, AdaptiveAvgPool2d(1) after block 4, Linear(256, 10)."""

    def __init__(self, in_channels=1, num_classes=10):
        super().__init__()
        c = [in_channels, 32, 64, 128, 256]
        self.conv1 = nn.Conv2d(c[0], c[1], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c[1])
        self.conv2 = nn.Conv2d(c[1], c[2], 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c[2])
        self.conv3 = nn.Conv2d(c[2], c[3], 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(c[3])
        self.conv4 = nn.Conv2d(c[3], c[4], 3, padding=1, bias=False)
        self.bn4 = nn.BatchNorm2d(c[4])
        self.pool = nn.MaxPool2d(2)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c[4], num_classes)

    def forward(self, x):
        return self.tail(self.head(x))

    def head(self, x):
        """Everything before bn3 (does not depend on the zoo's parameters)."""
        x = self.pool(F.relu(self.bn1(self.conv1(x))))  # 28 -> 14
        x = self.pool(F.relu(self.bn2(self.conv2(x))))  # 14 -> 7
        return self.conv3(x)

    def tail(self, x):
        x = self.pool(F.relu(self.bn3(x)))  # 7 -> 3
        x = self.gap(F.relu(self.bn4(self.conv4(x))))  # 3 -> 1
        return self.fc(torch.flatten(x, 1))


# The readers live in pdiff_data.py; these names stay for the scripts that import them from here.
from pdiff_data import read_idx  # noqa: E402
from pdiff_data import _idx_file as find  # noqa: E402


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    run_dir, data_root, test_limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
    torch.set_num_threads(int(os.environ.get("PDIFF_PYTHON_THREADS", "2")))

    zoo = torch.load(os.path.join(run_dir, "zoo.pt"), weights_only=True)
    base_state = torch.load(os.path.join(run_dir, "base.pt"), weights_only=True)
    with open(os.path.join(run_dir, "base.json")) as f:
        base_info = json.load(f)

    # --- zoo.pt structure ------------------------------------------------------------------
    check(isinstance(zoo, dict), "zoo.pt is not a dict")
    for key in ("format", "version", "params", "accuracy", "predictions", "names", "shapes", "offsets",
                "arch", "config", "fingerprint", "base_accuracy"):
        check(key in zoo, f"zoo.pt has no key '{key}'")
    if FAILURES:
        return report()
    check(zoo["format"] == "pdiff.zoo", f"format is {zoo['format']!r}")
    check(zoo["version"] == 1, f"version is {zoo['version']!r}")
    check(zoo["arch"] == "convnet4", f"arch is {zoo['arch']!r}")
    params, acc, preds = zoo["params"], zoo["accuracy"], zoo["predictions"]
    K = params.shape[0] if params.dim() == 2 else -1
    check(params.dtype == torch.float32, f"params dtype {params.dtype}")
    check(params.dim() == 2 and params.shape[1] == 768, f"params shape {tuple(params.shape)}, expected [K, 768]")
    check(acc.dtype == torch.float32 and tuple(acc.shape) == (K,), f"accuracy {acc.dtype} {tuple(acc.shape)}")
    check(preds.dtype == torch.uint8 and tuple(preds.shape) == (K, test_limit),
          f"predictions {preds.dtype} {tuple(preds.shape)}, expected uint8 [{K}, {test_limit}]")
    names, shapes, offsets = list(zoo["names"]), [list(s) for s in zoo["shapes"]], list(zoo["offsets"])
    check(names == ["bn3.weight", "bn3.bias", "bn4.weight", "bn4.bias"], f"names {names}")
    check(shapes == [[128], [128], [256], [256]], f"shapes {shapes}")
    check(offsets == [0, 128, 256, 512], f"offsets {offsets}")
    check(torch.isfinite(params).all().item(), "params has non-finite values")
    if FAILURES:
        return report()

    # --- base.pt loads strictly into the SPEC's ConvNet-4 ----------------------------------
    model = ConvNet4()
    check(set(base_state.keys()) == set(model.state_dict().keys()),
          f"base.pt keys differ: extra {sorted(set(base_state) - set(model.state_dict()))}, "
          f"missing {sorted(set(model.state_dict()) - set(base_state))}")
    model.load_state_dict(base_state, strict=True)
    model.eval()
    # The zoo starts from the base values: checkpoints stay near them.
    base_vec = torch.cat([base_state[n].reshape(-1).float() for n in names])
    check((params[0] - base_vec).abs().max().item() < 1.0, "first checkpoint is far from the base model's values")

    # --- test data, read here ----------------------------------------------------------------
    images = read_idx(find(data_root, "t10k-images-idx3-ubyte"))[:test_limit]
    labels = read_idx(find(data_root, "t10k-labels-idx1-ubyte"))[:test_limit].long()
    x = images.unsqueeze(1).float().div(255.0).sub(0.2860).div(0.3530)

    with torch.no_grad():
        base_acc = 100.0 * (model(x).argmax(1) == labels).float().mean().item()
    check(abs(base_acc - base_info["test_accuracy"]) < 0.05,
          f"base accuracy: PyTorch {base_acc:.2f} vs base.json {base_info['test_accuracy']:.2f}")
    check(abs(base_acc - float(zoo["base_accuracy"])) < 0.05,
          f"base accuracy: PyTorch {base_acc:.2f} vs zoo.pt {float(zoo['base_accuracy']):.2f}")

    # --- every checkpoint ---------------------------------------------------------------------
    # The layout's names must be bn3/bn4 tensors (checked above), so the part before bn3 is
    # computed once; the first and last checkpoints also run the full forward as a check.
    state = dict(model.named_parameters())
    worst = 0.0
    with torch.no_grad():
        h = model.head(x)
        for k in range(K):
            for name, shape, off in zip(names, shapes, offsets):
                n = 1
                for d in shape:
                    n *= d
                state[name].copy_(params[k, off : off + n].view(shape))
            p = model.tail(h).argmax(1)
            if k in (0, K - 1):
                check(torch.equal(model(x).argmax(1), p), f"checkpoint {k}: head+tail differs from forward")
            a = 100.0 * (p == labels).float().mean().item()
            worst = max(worst, abs(a - acc[k].item()))
            check(abs(a - acc[k].item()) < 0.05, f"checkpoint {k}: PyTorch accuracy {a:.2f} vs zoo.pt {acc[k].item():.2f}")
            stored = 100.0 * (preds[k].long() == labels).float().mean().item()
            check(abs(stored - acc[k].item()) < 1e-3,
                  f"checkpoint {k}: stored predictions give {stored:.2f}, accuracy says {acc[k].item():.2f}")
            differ = (p != preds[k].long()).sum().item()
            check(differ <= max(1, test_limit // 1000),
                  f"checkpoint {k}: {differ} predictions differ between PyTorch and zoo.pt")
    # BN running statistics stay those of the base model: the stored base state is unchanged.
    check(torch.equal(model.bn3.running_mean, base_state["bn3.running_mean"]), "bn3 running mean changed")
    print(f"check_zoo: K={K} D={params.shape[1]} base {base_acc:.2f} % zoo mean {acc.mean().item():.2f} % "
          f"max |accuracy difference| {worst:.3f} points")
    return report()


def report():
    if FAILURES:
        print(f"check_zoo: {len(FAILURES)} mismatch(es)", file=sys.stderr)
        return 1
    print("check_zoo: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
