#!/usr/bin/python3
"""Re-evaluates a pdiff run directory independently in PyTorch, for any architecture and dataset.

Usage: /usr/bin/python3 tests/python/check_run.py RUN_DIR [RUN_DIR ...] [--models N] [--originals N]
                                                  [--data-root ROOT] [--batch B]

Reads RUN_DIR/config.yaml (data.name, data.root, data.test_limit, model.arch, model.mlp_hidden,
model.vit_patch), builds the architecture from pdiff_models.py (model.arch=torchscript: loads
model.file with torch.jit.load), loads RUN_DIR/base.pt with load_state_dict(strict=True) and
reads the test set with pdiff_data.py (data.name=tensors: test_x and test_y of data.file, uint8
scaled to [0, 1], data.normalize=standard as pdiff does it). Then it evaluates, in
eval mode on the (first data.test_limit) test images:
  - the base model, against base.json's test_accuracy (when base.json exists);
  - every generated parameter vector of generated.pt (or the first --models N), put into the
    model at the tensors its names/shapes/offsets describe, against generated.pt's accuracy;
  - the first --originals N (default 3) checkpoints of zoo.pt the same way.
Every accuracy must agree within 0.05 points, and where the file stores per-image predictions
(key predictions) at most --max-pred-diff of them (default: test images // 1000, so none below
1000 images) may differ: equal accuracies can hide swapped predictions. Prints one line per
group with the max differences, then `check_run: OK`, or the mismatches and exits 1. Several
RUN_DIRs are checked one after the other in one Python (one start of PyTorch for all).
--data-root overrides config.yaml's data.root (e.g. a run made on another machine).
Uses Debian's python3-torch (run it with /usr/bin/python3).
"""
import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pdiff_data  # noqa: E402
import pdiff_models  # noqa: E402

TOLERANCE = 0.05  # accuracy points


# --- config.yaml: pdiff writes a two-level YAML of scalars and flow lists ----------------------
def _scalar(text):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            return json.loads(text)  # YAML double-quoted strings use JSON's escapes
        except ValueError:
            return text[1:-1]
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1].strip()
        return [_scalar(t) for t in inner.split(",")] if inner else []
    if text in ("true", "false"):
        return text == "true"
    if text in ("null", "~", ""):
        return None
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def parse_config(path):
    """Nested dict of config.yaml (PyYAML when installed, else a parser for pdiff's format)."""
    with open(path) as f:
        text = f.read()
    try:
        import yaml
        return yaml.safe_load(text)
    except ImportError:
        pass
    out, section = {}, None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        key, sep, value = line.strip().partition(":")
        if not sep:
            raise ValueError(f"{path}: cannot parse line {line!r}")
        if indent == 0:
            if value.strip():
                out[key] = _scalar(value)
                section = None
            else:
                section = out.setdefault(key, {})
        elif section is not None:
            section[key] = _scalar(value)
        else:
            raise ValueError(f"{path}: indented line outside a section: {line!r}")
    return out


# --- data.name=tensors: the user's dict, prepared as src/data/tensors.cpp prepares it -----------
def load_tensors_test(data, test_limit, flat):
    d = torch.load(data["file"], weights_only=True)

    def inputs(key):
        x = d[key]
        x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
        if x.dim() == 2:
            x = x[:, :, None, None]
        elif x.dim() == 3:
            x = x.unsqueeze(1)
        return x

    test_x, test_y = inputs("test_x"), d["test_y"].long()
    if data.get("normalize", "auto") == "standard":
        train_x = inputs("train_x")
        var, mean = torch.var_mean(train_x, (0, 2, 3), unbiased=False, keepdim=True)
        std = var.sqrt()
        std = torch.where(std < 1e-6, torch.ones_like(std), std)
        test_x = (test_x - mean) / std
    if test_limit:
        test_x, test_y = test_x[:test_limit], test_y[:test_limit]
    classes = int(data.get("num_classes") or 0) or int(max(d["train_y"].max(), d["test_y"].max())) + 1
    if flat and test_x.shape[2] == 1:
        test_x = test_x.flatten(1)  # a TorchScript module on [N, F] vectors takes [batch, F]
    return test_x, test_y, classes


# --- evaluation --------------------------------------------------------------------------------
def predict(model, images, batch):
    with torch.no_grad():
        return torch.cat([model(images[i:i + batch]).argmax(1) for i in range(0, images.shape[0], batch)])


def put_vector(tensors, vec, names, shapes, offsets):
    """Copies one flat parameter vector into the named model tensors."""
    for name, shape, off in zip(names, shapes, offsets):
        n = math.prod(int(d) for d in shape)
        tensors[name].copy_(vec[off:off + n].view([int(d) for d in shape]))


def check_group(label, path, model, images, labels, batch, limit, max_pred_diff, failures):
    """Evaluates the first `limit` vectors of a zoo.pt / generated.pt; returns its summary line."""
    g = torch.load(path, weights_only=True)
    before = len(failures)
    for key in ("params", "accuracy", "names", "shapes", "offsets"):
        if key not in g:
            failures.append(f"{label}: {path} has no key {key!r}")
            return f"{label}: unreadable"
    params, acc = g["params"], g["accuracy"]
    names, shapes, offsets = list(g["names"]), [list(s) for s in g["shapes"]], [int(o) for o in g["offsets"]]
    tensors = dict(model.named_parameters())
    tensors.update(dict(model.named_buffers()))
    unknown = [n for n in names if n not in tensors]
    if unknown:
        failures.append(f"{label}: names not in the model: {unknown}")
        return f"{label}: layout does not fit the model"
    for name, shape in zip(names, shapes):
        if list(tensors[name].shape) != [int(d) for d in shape]:
            failures.append(f"{label}: {name} has shape {shape} in the file, {list(tensors[name].shape)} in the model")
    total = sum(math.prod(int(d) for d in s) for s in shapes)
    if params.dim() != 2 or params.shape[1] != total:
        failures.append(f"{label}: params {tuple(params.shape)} do not fit the layout ({total} values)")
    if len(failures) > before:
        return f"{label}: layout mismatch"
    preds = g.get("predictions")
    if preds is not None and tuple(preds.shape) != (params.shape[0], labels.shape[0]):
        preds = None  # stored for another test set: cannot compare image by image
    saved = {n: tensors[n].detach().clone() for n in names}
    n_models = params.shape[0] if limit is None else min(limit, params.shape[0])
    worst, worst_pred_diff, classes = 0.0, 0, set()
    for k in range(n_models):
        with torch.no_grad():
            put_vector(tensors, params[k], names, shapes, offsets)
        p = predict(model, images, batch)
        classes.update(p.unique().tolist())
        a = 100.0 * (p == labels).double().mean().item()
        diff = abs(a - float(acc[k]))
        worst = max(worst, diff)
        if diff >= TOLERANCE:
            failures.append(f"{label} {k}: PyTorch accuracy {a:.4f} vs file {float(acc[k]):.4f}")
        if preds is not None:
            differ = int((p != preds[k].long()).sum().item())
            worst_pred_diff = max(worst_pred_diff, differ)
            if differ > max_pred_diff:
                failures.append(f"{label} {k}: {differ} of {labels.shape[0]} predictions differ from the file's")
    with torch.no_grad():
        for n in names:
            tensors[n].copy_(saved[n])
    line = f"{label}: {n_models}/{params.shape[0]} models, max |accuracy difference| {worst:.4f} points"
    if preds is not None:
        line += f", max differing predictions {worst_pred_diff}/{labels.shape[0]}"
    line += f", {len(classes)} classes predicted"
    if len(classes) == 1:
        line += " (degenerate models: a weak check)"
    return line


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    ap.add_argument("--models", type=int, default=None, help="check only the first N generated models")
    ap.add_argument("--originals", type=int, default=3, help="zoo checkpoints to re-evaluate (default 3)")
    ap.add_argument("--data-root", default=None, help="override config.yaml's data.root")
    ap.add_argument("--batch", type=int, default=500, help="test images per forward pass")
    ap.add_argument("--max-pred-diff", type=int, default=None,
                    help="per-image predictions allowed to differ from the stored ones (default: test images // 1000)")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("PDIFF_PYTHON_THREADS", "2")))
    failures = []
    for run_dir in args.run_dirs:
        failures += check_run_dir(run_dir, args)
    if failures:
        for f in failures:
            print("MISMATCH: " + f, file=sys.stderr)
        print(f"check_run: {len(failures)} mismatch(es)")
        return 1
    print("check_run: OK")
    return 0


def check_run_dir(run_dir, args):
    """Checks one run directory; returns its mismatches."""
    cfg = parse_config(os.path.join(run_dir, "config.yaml"))
    data, mcfg = cfg.get("data", {}), cfg.get("model", {})
    name = data.get("name", "fashion-mnist")
    root = args.data_root if args.data_root is not None else (data.get("root") or "")
    test_limit = int(data.get("test_limit") or 0)
    arch = mcfg["arch"]
    hidden = mcfg.get("mlp_hidden", [128])
    hidden = hidden if isinstance(hidden, list) else [hidden]
    vit_patch = int(mcfg.get("vit_patch", 4))

    if name == "tensors":
        images, labels, classes = load_tensors_test(data, test_limit, arch == "torchscript")
    else:
        images, labels = pdiff_data.load_test(name, root, test_limit)
        classes = pdiff_data.NUM_CLASSES[name]
    if arch == "torchscript":
        model = torch.jit.load(mcfg["file"])
    else:
        model = pdiff_models.build(arch, images.shape[1], images.shape[2], classes, hidden, vit_patch)
    model.load_state_dict(torch.load(os.path.join(run_dir, "base.pt"), weights_only=True), strict=True)
    model.eval()
    print(f"check_run: {run_dir}: {arch} on {name}, {images.shape[0]} test images "
          f"{tuple(images.shape[1:])}")

    max_pred_diff = args.max_pred_diff if args.max_pred_diff is not None else images.shape[0] // 1000
    failures = []
    base_json = os.path.join(run_dir, "base.json")
    if os.path.exists(base_json):
        with open(base_json) as f:
            expected = float(json.load(f)["test_accuracy"])
        a = 100.0 * (predict(model, images, args.batch) == labels).double().mean().item()
        if abs(a - expected) >= TOLERANCE:
            failures.append(f"base: PyTorch accuracy {a:.4f} vs base.json {expected:.4f}")
        print(f"base: PyTorch {a:.4f} vs base.json {expected:.4f}, |difference| {abs(a - expected):.4f} points")

    for label, fname, limit in (("generated", "generated.pt", args.models), ("originals", "zoo.pt", args.originals)):
        path = os.path.join(run_dir, fname)
        if not os.path.exists(path):
            failures.append(f"{label}: {path} missing")
            continue
        if limit is not None and limit <= 0:
            continue
        print(check_group(label, path, model, images, labels, args.batch, limit, max_pred_diff, failures))

    return [f"{run_dir}: {f}" for f in failures]


if __name__ == "__main__":
    sys.exit(main())
