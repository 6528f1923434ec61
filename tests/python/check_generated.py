#!/usr/bin/python3
"""Checks generated.pt and an exported model of a fmnist-convnet4 run from PyTorch.

Usage: /usr/bin/python3 check_generated.py [--no-export] RUN_DIR TEST_LIMIT [DATA_ROOT]

Loads generated.pt with torch.load, checks keys, dtypes and shapes, re-evaluates every generated
parameter vector independently in PyTorch's ConvNet-4 (base.pt + the vector in bn3/bn4) on the
first TEST_LIMIT test images and requires the accuracies to agree within 0.05 points; loads
generated_3.pt (from `pdiff export --index 3`) with load_state_dict(strict=True) and requires its
accuracy to equal generated model 3's. A missing generated_3.pt (or fewer than 4 generated models)
is a failure unless --no-export says that no export was made. Exits non-zero on any mismatch.
"""
import os
import sys

import torch

from check_zoo import ConvNet4, find, read_idx


def main():
    args = sys.argv[1:]
    check_export = "--no-export" not in args
    args = [a for a in args if a != "--no-export"]
    if len(args) not in (2, 3) or any(a.startswith("--") for a in args):
        raise SystemExit(__doc__)
    run_dir, test_limit = args[0], int(args[1])
    root = args[2] if len(args) == 3 else "/usr/share/datasets/fashion-mnist"
    torch.set_num_threads(int(os.environ.get("PDIFF_PYTHON_THREADS", "2")))
    failures = []

    def check(cond, msg):
        if not cond:
            failures.append(msg)
            print("MISMATCH: " + msg, file=sys.stderr)

    g = torch.load(os.path.join(run_dir, "generated.pt"), weights_only=True)
    for key in ("format", "version", "params", "accuracy", "predictions", "names", "shapes", "offsets"):
        check(key in g, f"generated.pt has no key {key!r}")
    if failures:
        return 1
    params, acc = g["params"], g["accuracy"]
    n = params.shape[0]
    check(g["format"] == "pdiff.generated", f"format {g['format']!r}")
    check(params.dtype == torch.float32 and params.dim() == 2 and params.shape[1] == 768,
          f"params {params.dtype} {tuple(params.shape)}")
    check(tuple(acc.shape) == (n,), f"accuracy shape {tuple(acc.shape)}")
    names, offsets = list(g["names"]), list(g["offsets"])
    shapes = [list(s) for s in g["shapes"]]

    images = read_idx(find(root, "t10k-images-idx3-ubyte"))[:test_limit]
    labels = read_idx(find(root, "t10k-labels-idx1-ubyte"))[:test_limit].long()
    x = images.unsqueeze(1).float().div(255.0).sub(0.2860).div(0.3530)

    model = ConvNet4()
    model.load_state_dict(torch.load(os.path.join(run_dir, "base.pt"), weights_only=True), strict=True)
    model.eval()
    state = dict(model.named_parameters())
    accs = []
    with torch.no_grad():
        for k in range(n):
            for name, shape, off in zip(names, shapes, offsets):
                size = 1
                for d in shape:
                    size *= d
                state[name].copy_(params[k, off : off + size].view(shape))
            a = 100.0 * (model(x).argmax(1) == labels).float().mean().item()
            accs.append(a)
            check(abs(a - acc[k].item()) < 0.05, f"model {k}: PyTorch {a:.2f} vs generated.pt {acc[k].item():.2f}")

    exported = os.path.join(run_dir, "generated_3.pt")
    if check_export:
        check(n > 3, f"only {n} generated models: none with index 3 to compare with generated_3.pt")
        check(os.path.exists(exported),
              f"{exported} not found: run `pdiff export --index 3` first, or pass --no-export")
    if check_export and n > 3 and os.path.exists(exported):
        m = ConvNet4()
        m.load_state_dict(torch.load(exported, weights_only=True), strict=True)
        m.eval()
        with torch.no_grad():
            a = 100.0 * (m(x).argmax(1) == labels).float().mean().item()
        check(abs(a - accs[3]) < 1e-6, f"exported model 3: {a:.2f} vs {accs[3]:.2f}")
    if failures:
        print(f"check_generated: {len(failures)} mismatch(es)", file=sys.stderr)
        return 1
    print(f"check_generated: OK, {n} models, mean accuracy {sum(accs) / n:.2f} %"
          + ("" if check_export else " (export not checked: --no-export)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
