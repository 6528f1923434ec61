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

    own_data.py script OUT [--model lenet_bn|lenet_gn|wide_out|rgb_only] [--trace] [--state STATE]
        A LeNet-5 with BatchNorm (lenet_bn) or a small CNN with GroupNorm and LayerNorm (lenet_gn),
        neither a pdiff built-in, for 1x28x28 inputs and 10 classes, saved with
        torch.jit.script(m).save(OUT) (--trace: torch.jit.trace). wide_out returns [batch, 84] and
        rgb_only wants 3 input channels: modules pdiff must refuse. --state: then trains the Python
        model for --steps SGD steps, saves dict(model.state_dict()) to STATE (the module at OUT
        keeps the untrained weights) and prints "accuracy A" on the first --test test images.
    own_data.py zoo ARCH OUTDIR [--k K] [--steps S] [--train N] [--test M] [--whole] [--bn-train] [--separate]
                               [--hidden W1,W2,...]
        Trains ARCH for S steps, saves OUTDIR/base.pt, then trains only the last layer (the rest
        frozen, BatchNorm in eval mode) for K steps, saving OUTDIR/ckpt_000.pt ... (plain dicts)
        and printing "accuracy k A" for each on the first M test images. --whole: trains every
        weight, BatchNorm in training mode (its running statistics change too). --bn-train: only
        the last layer trains, but with BatchNorm in training mode (its statistics drift).
        --separate: K separate trainings instead, checkpoint k from its own seed, every weight
        trained for S steps (base.pt is checkpoint 0): a zoo whose hidden units are unaligned.
        --hidden: the MLP's hidden widths (pdiff's model.mlp_hidden; default 128), both kinds of zoo.
    own_data.py eval MODULE STATE [MODULE STATE ...] [--test M] [--data TENSORS]
        Loads STATE (a state dict pdiff wrote; "-": none) into the TorchScript MODULE and prints "accuracy A"
        on the first M Fashion-MNIST test images normalised as pdiff normalises them (or on the
        test split of a data.name=tensors file, uint8 scaled to [0, 1]); one line per pair, in order.

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
# The test suite's Python-side thread count (scripts/test.sh --threads changes it with pdiff's).
torch.set_num_threads(int(os.environ.get("PDIFF_PYTHON_THREADS", "2")))


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
    train(model, a.steps, a.train)
    acc = test_accuracy(model, a.test)
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


class LeNetBN(torch.nn.Module):
    """LeNet-5 with BatchNorm after each convolution and the first fully connected layer."""

    def __init__(self, out=10):
        super().__init__()
        nn = torch.nn
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2))
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.bn3 = nn.BatchNorm1d(120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, out)
        self.out = out

    def forward(self, x):
        x = self.features(x).flatten(1)
        x = F.relu(self.bn3(self.fc1(x)))
        x = F.relu(self.fc2(x))
        return x if self.out == 84 else self.fc3(x)


class SmallGN(torch.nn.Module):
    """Two convolutions with GroupNorm, a LayerNorm on the pooled features, a linear head."""

    def __init__(self, in_channels=1):
        super().__init__()
        nn = torch.nn
        self.conv1 = nn.Conv2d(in_channels, 16, 3, padding=1)
        self.gn1 = nn.GroupNorm(4, 16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.gn2 = nn.GroupNorm(8, 32)
        self.ln = nn.LayerNorm(32)
        self.head = nn.Linear(32, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.gn1(self.conv1(x))), 2)
        x = F.relu(self.gn2(self.conv2(x))).mean((2, 3))
        return self.head(self.ln(x))


def train(model, steps, n_train):
    train_x, train_y = split("train", n_train)
    train_x = pdiff_data.normalise(train_x.unsqueeze(1), *pdiff_data.NORMALISATION["fashion-mnist"])
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for step in range(steps):
        idx = torch.randint(0, train_x.shape[0], (64,))
        opt.zero_grad()
        F.cross_entropy(model(train_x[idx]), train_y[idx]).backward()
        opt.step()
    model.eval()


def test_accuracy(model, n_test):
    test_x, test_y = pdiff_data.load_test("fashion-mnist", "", n_test)
    model.eval()
    with torch.no_grad():
        return 100.0 * (model(test_x).argmax(1) == test_y).double().mean().item()


def write_separate_zoo(a):
    """K separate trainings: checkpoint k is the model initialised from seed k + 1 and trained
    whole for --steps steps (its hidden units in an order of its own); base.pt is checkpoint 0."""
    os.makedirs(a.out, exist_ok=True)
    for k in range(a.k):
        torch.manual_seed(k + 1)
        model = pdiff_models.build(a.arch, 1, 28, 10, mlp_hidden=a.hidden)
        train(model, a.steps, a.train)
        torch.save(dict(model.state_dict()), os.path.join(a.out, f"ckpt_{k:03d}.pt"))
        if k == 0:
            torch.save(dict(model.state_dict()), os.path.join(a.out, "base.pt"))
        print(f"accuracy {k} {test_accuracy(model, a.test):.4f}")


def write_zoo(a):
    """A base model and K checkpoints that differ from it only in the last layer (the rest frozen,
    BatchNorm in eval mode), as p-diff's collection makes them."""
    if a.separate:
        return write_separate_zoo(a)
    torch.manual_seed(0)
    model = pdiff_models.build(a.arch, 1, 28, 10, mlp_hidden=a.hidden)
    train(model, a.steps, a.train)
    os.makedirs(a.out, exist_ok=True)
    torch.save(dict(model.state_dict()), os.path.join(a.out, "base.pt"))
    last = "fc2" if a.arch == "mlp" else "fc"
    params = [p for n, p in model.named_parameters() if a.whole or n.startswith(last + ".")]
    for p in model.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    train_x, train_y = split("train", a.train)
    train_x = pdiff_data.normalise(train_x.unsqueeze(1), *pdiff_data.NORMALISATION["fashion-mnist"])
    opt = torch.optim.SGD(params, lr=0.01)
    for k in range(a.k):
        model.train(a.whole or a.bn_train)  # otherwise BatchNorm statistics stay the base's
        idx = torch.randint(0, train_x.shape[0], (64,))
        opt.zero_grad()
        F.cross_entropy(model(train_x[idx]), train_y[idx]).backward()
        opt.step()
        torch.save(dict(model.state_dict()), os.path.join(a.out, f"ckpt_{k:03d}.pt"))
        print(f"accuracy {k} {test_accuracy(model, a.test):.4f}")


def write_script(a):
    torch.manual_seed(0)
    model = {"lenet_bn": lambda: LeNetBN(), "lenet_gn": lambda: SmallGN(), "wide_out": lambda: LeNetBN(84),
             "rgb_only": lambda: SmallGN(3)}[a.model]()
    model.eval()
    m = torch.jit.trace(model, torch.zeros(2, 1, 28, 28)) if a.trace else torch.jit.script(model)
    m.save(a.out)
    if a.state:  # then train the Python model and save its weights, for base.file
        train(model, a.steps, 2000)
        torch.save(dict(model.state_dict()), a.state)
        print(f"accuracy {test_accuracy(model, a.test):.4f}")


def evaluate(a):
    if len(a.pairs) % 2:
        sys.exit("own_data.py eval: give MODULE STATE pairs (STATE '-': the module's own weights)")
    if a.data:
        d = torch.load(a.data, weights_only=True)
        x, y = d["test_x"][:a.test], d["test_y"][:a.test]
        x = (x.float() / 255 if x.dtype == torch.uint8 else x.float())
        x = x.unsqueeze(1) if x.dim() == 3 else x
    else:
        x, y = pdiff_data.load_test("fashion-mnist", "", a.test)
    for module, state in zip(a.pairs[0::2], a.pairs[1::2]):
        m = torch.jit.load(module)
        if state != "-":
            m.load_state_dict(torch.load(state, weights_only=True))
        m.eval()
        with torch.no_grad():
            acc = 100.0 * (m(x).argmax(1) == y).double().mean().item()
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
    s = sub.add_parser("script")
    s.add_argument("out")
    s.add_argument("--model", choices=("lenet_bn", "lenet_gn", "wide_out", "rgb_only"), default="lenet_bn")
    s.add_argument("--trace", action="store_true")
    s.add_argument("--state", default="", help="also train the model and save its state dict here")
    s.add_argument("--steps", type=int, default=30)
    s.add_argument("--test", type=int, default=500)
    z = sub.add_parser("zoo")
    z.add_argument("arch", choices=pdiff_models.ARCHS)
    z.add_argument("out")
    z.add_argument("--k", type=int, default=6)
    z.add_argument("--train", type=int, default=2000)
    z.add_argument("--test", type=int, default=500)
    z.add_argument("--steps", type=int, default=30)
    z.add_argument("--whole", action="store_true", help="train every weight, BatchNorm in training mode")
    z.add_argument("--bn-train", action="store_true",
                   help="the last layer trains with BatchNorm in training mode: every running statistic drifts")
    z.add_argument("--separate", action="store_true",
                   help="K separate trainings from their own random initialisations (whole networks)")
    z.add_argument("--hidden", type=lambda v: tuple(int(w) for w in v.split(",")), default=(128,),
                   help="the MLP's hidden widths, comma-separated (model.mlp_hidden)")
    e = sub.add_parser("eval")
    e.add_argument("pairs", nargs="+", metavar="MODULE STATE")
    e.add_argument("--test", type=int, default=500)
    e.add_argument("--data", default="")
    a = p.parse_args()
    {"dataset": write_dataset, "base": write_base, "script": write_script, "zoo": write_zoo,
     "eval": evaluate}[a.cmd](a)


if __name__ == "__main__":
    main()
