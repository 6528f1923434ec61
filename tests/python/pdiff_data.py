"""Readers of the datasets pdiff trains on, normalised as pdiff normalises them (src/data/).

    load_test(name, root, test_limit=0) -> (images float32 (N, C, H, W), labels int64 (N,))

name: fashion-mnist, mnist (IDX files, gzip or raw), cifar10, cifar100 (binary version; the
fine label of CIFAR-100), stl10 (binary version). root "" means
/usr/share/datasets/fashion-mnist for fashion-mnist, as in pdiff. Pixels are x / 255, then
(x - mean) / std per channel, in float32 like pdiff. STL-10's mean and std come from the whole
train split (whatever data.train_limit), in float64, population std (divide by N), floored at
1e-6, as pdiff's data/dataset.cpp channel_stats does. test_limit > 0 keeps the first N test
images. Uses Debian's python3-torch (/usr/bin/python3).
"""
import gzip
import os
import struct

import torch

FASHION_MNIST_ROOT = "/usr/share/datasets/fashion-mnist"
NORMALISATION = {
    "fashion-mnist": ((0.2860,), (0.3530,)),
    "mnist": ((0.1307,), (0.3081,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}
DATASETS = ("fashion-mnist", "mnist", "cifar10", "cifar100", "stl10")
NUM_CLASSES = {"fashion-mnist": 10, "mnist": 10, "cifar10": 10, "cifar100": 100, "stl10": 10}


def _u8(data):
    return torch.frombuffer(bytearray(data), dtype=torch.uint8)


def read_idx(path):
    """An unsigned-byte IDX file (gzip or raw) as a uint8 tensor of its dimensions."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    payload = data[4 + 4 * ndim:]
    count = 1
    for d in dims:
        count *= d
    if len(payload) != count:
        raise ValueError(f"{path}: {len(payload)} payload bytes, the header promises {count}")
    return _u8(payload).reshape(dims)


def _idx_file(root, stem):
    for name in (stem + ".gz", stem):
        if os.path.exists(os.path.join(root, name)):
            return os.path.join(root, name)
    raise FileNotFoundError(f"{root}: neither {stem}.gz nor {stem} found")


def read_cifar_bin(path, label_bytes):
    """CIFAR binary records (label byte(s) + 3072 pixels) -> uint8 (N, 3, 32, 32), int64 labels
    (the last label byte: CIFAR-100's fine label)."""
    with open(path, "rb") as f:
        data = f.read()
    record = label_bytes + 3 * 32 * 32
    if not data or len(data) % record:
        raise ValueError(f"{path}: {len(data)} bytes is not a whole number of {record}-byte records")
    rows = _u8(data).reshape(-1, record)
    return rows[:, label_bytes:].reshape(-1, 3, 32, 32).clone(), rows[:, label_bytes - 1].long()


def read_stl10_bin(images_path, labels_path):
    """STL-10 binary: uint8 3x96x96 images, each channel column-major -> (N, 3, 96, 96)
    row-major; labels 1..10 -> 0..9."""
    with open(images_path, "rb") as f:
        x = f.read()
    n_bytes = 3 * 96 * 96
    if not x or len(x) % n_bytes:
        raise ValueError(f"{images_path}: {len(x)} bytes is not a whole number of 3x96x96 images")
    images = _u8(x).reshape(-1, 3, 96, 96).transpose(2, 3).contiguous()
    with open(labels_path, "rb") as f:
        y = _u8(f.read()).long()
    if y.numel() != images.shape[0]:
        raise ValueError(f"{labels_path}: {y.numel()} labels for {images.shape[0]} images")
    if y.numel() and (y.min() < 1 or y.max() > 10):
        raise ValueError(f"{labels_path}: labels outside 1..10")
    return images, y - 1


def channel_stats(u8):
    """Per-channel mean and population std of uint8 (N, C, H, W) images / 255, in float64
    (from byte histograms, as pdiff), std floored at 1e-6."""
    means, stds = [], []
    v = torch.arange(256, dtype=torch.float64) / 255.0
    for ch in range(u8.shape[1]):
        hist = torch.bincount(u8[:, ch].reshape(-1).long(), minlength=256).double()
        count = hist.sum()
        mean = (hist * v).sum() / count
        var = max(((hist * v * v).sum() / count - mean * mean).item(), 0.0)
        means.append(mean.item())
        stds.append(max(var ** 0.5, 1e-6))
    return tuple(means), tuple(stds)


def normalise(u8, mean, std):
    """uint8 (N, C, H, W) -> float32 (x / 255 - mean) / std, mean and std cast to float32."""
    c = u8.shape[1]
    x = u8.float().div_(255.0)
    m = torch.tensor(mean, dtype=torch.float32).view(1, c, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, c, 1, 1)
    return x.sub_(m).div_(s).contiguous()


def _archive_dir(root, sub, probe):
    if os.path.exists(os.path.join(root, probe)):
        return root
    if os.path.exists(os.path.join(root, sub, probe)):
        return os.path.join(root, sub)
    raise FileNotFoundError(f"{root}: {probe} not found (nor under {sub}/)")


def _first(t, n):
    return t[:n] if n and n > 0 else t


def load_test(name, root="", test_limit=0):
    """The (first test_limit) test images of a dataset, normalised, and their labels."""
    if name in ("fashion-mnist", "mnist"):
        if not root:
            if name != "fashion-mnist":
                raise ValueError("data.root: MNIST is not packaged; give its folder")
            root = FASHION_MNIST_ROOT
        images = read_idx(_idx_file(root, "t10k-images-idx3-ubyte"))
        labels = read_idx(_idx_file(root, "t10k-labels-idx1-ubyte")).long()
        images, labels = _first(images, test_limit), _first(labels, test_limit)
        return normalise(images.unsqueeze(1), *NORMALISATION[name]), labels
    if name in ("cifar10", "cifar100"):
        c10 = name == "cifar10"
        d = _archive_dir(root, "cifar-10-batches-bin" if c10 else "cifar-100-binary",
                         "test_batch.bin" if c10 else "test.bin")
        images, labels = read_cifar_bin(os.path.join(d, "test_batch.bin" if c10 else "test.bin"), 1 if c10 else 2)
        images, labels = _first(images, test_limit), _first(labels, test_limit)
        return normalise(images, *NORMALISATION[name]), labels
    if name == "stl10":
        d = _archive_dir(root, "stl10_binary", "test_X.bin")
        train_x, _ = read_stl10_bin(os.path.join(d, "train_X.bin"), os.path.join(d, "train_y.bin"))
        mean, std = channel_stats(train_x)
        del train_x
        images, labels = read_stl10_bin(os.path.join(d, "test_X.bin"), os.path.join(d, "test_y.bin"))
        images, labels = _first(images, test_limit), _first(labels, test_limit)
        return normalise(images, mean, std), labels
    raise ValueError(f"unknown dataset {name!r}; use one of {', '.join(DATASETS)}")
