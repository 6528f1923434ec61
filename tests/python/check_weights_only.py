#!/usr/bin/python3
"""Loads every .pt file pdiff wrote in a run directory with torch.load(f, weights_only=True), as
PyTorch >= 2.6 loads by default (1.13 has the same option), and with no allowlist: only plain
containers, numbers, strings and tensors may be in them.

    check_weights_only.py RUN_DIR [--expect NAME ...]

TorchScript modules (*.script.pt) are left out: they load with torch.jit.load. --expect names
files that must be among those loaded. Prints one line per file; exits 1 naming each file
that fails.
"""
import argparse
import glob
import os
import sys

import torch


def describe(v):
    if isinstance(v, dict):
        return "dict of " + str(len(v))
    if torch.is_tensor(v):
        return "tensor " + "x".join(str(d) for d in v.shape)
    return type(v).__name__


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("--expect", nargs="*", default=[])
    a = ap.parse_args()
    files = sorted(f for f in glob.glob(os.path.join(a.run_dir, "*.pt")) if not f.endswith(".script.pt"))
    names = [os.path.basename(f) for f in files]
    failures = [f"{n}: not written" for n in a.expect if n not in names]
    for f, n in zip(files, names):
        try:
            v = torch.load(f, weights_only=True)
            print(f"{n}: {describe(v)}")
        except Exception as e:  # the message names the refused global
            failures.append(f"{n}: {str(e).splitlines()[-1] if str(e) else type(e).__name__}")
    print(f"torch {torch.__version__}: {len(files) - len([x for x in failures if 'not written' not in x])} "
          f"of {len(files)} files load with weights_only=True")
    if failures:
        print("check_weights_only: FAILED\n  " + "\n  ".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
