#!/usr/bin/python3
"""Writes tiny synthetic datasets in the formats pdiff reads, for end-to-end checks.

Usage: /usr/bin/python3 tests/python/make_tiny_datasets.py OUT_DIR [--train N] [--test N] [--seed S]

OUT_DIR/mnist/          train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-* (raw IDX, 28x28)
OUT_DIR/cifar10/cifar-10-batches-bin/   data_batch_1..5.bin, test_batch.bin
OUT_DIR/cifar100/       train.bin, test.bin (coarse, fine label bytes)
OUT_DIR/stl10/stl10_binary/   train_X.bin, train_y.bin, test_X.bin, test_y.bin (column-major
                        channels, labels 1..10)
Images are noise around a class-dependent colour, so small models learn something; --train
images in all per split (CIFAR-10 spreads them over its five batches).
"""
import argparse
import os
import struct

import torch


def images_for(labels, channels, size, num_classes, gen):
    n = labels.shape[0]
    level = (labels.double() + 0.5) / num_classes * 255.0  # class -> grey level
    base = level.view(n, 1, 1, 1).expand(n, channels, size, size).clone()
    if channels == 3:  # a class-dependent tint per channel
        base[:, 1] = 255.0 - base[:, 1]
        base[:, 2] = (base[:, 2] * 3) % 255
    noise = torch.randn(n, channels, size, size, generator=gen, dtype=torch.float64) * 40.0
    return (base + noise).round().clamp(0, 255).to(torch.uint8)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def idx_bytes(t):
    return struct.pack(">HBB", 0, 0x08, t.dim()) + struct.pack(">" + "I" * t.dim(), *t.shape) + t.numpy().tobytes()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--train", type=int, default=100)
    ap.add_argument("--test", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    gen = torch.Generator().manual_seed(a.seed)

    def split(n, classes, channels, size):
        y = torch.randint(0, classes, (n,), generator=gen)
        return images_for(y, channels, size, classes, gen), y

    # MNIST (raw IDX)
    for prefix, n in (("train", a.train), ("t10k", a.test)):
        x, y = split(n, 10, 1, 28)
        write(os.path.join(a.out, "mnist", f"{prefix}-images-idx3-ubyte"), idx_bytes(x[:, 0].contiguous()))
        write(os.path.join(a.out, "mnist", f"{prefix}-labels-idx1-ubyte"), idx_bytes(y.to(torch.uint8)))

    # CIFAR-10: label byte + 3072 pixels
    def cifar10(x, y):
        rows = torch.cat([y.to(torch.uint8).view(-1, 1), x.reshape(x.shape[0], -1)], 1)
        return rows.contiguous().numpy().tobytes()

    d = os.path.join(a.out, "cifar10", "cifar-10-batches-bin")
    x, y = split(a.train, 10, 3, 32)
    for b, idx in enumerate(torch.arange(a.train).chunk(5)):
        write(os.path.join(d, f"data_batch_{b + 1}.bin"), cifar10(x[idx], y[idx]))
    write(os.path.join(d, "test_batch.bin"), cifar10(*split(a.test, 10, 3, 32)))

    # CIFAR-100: coarse byte, fine byte, 3072 pixels
    for name, n in (("train.bin", a.train), ("test.bin", a.test)):
        x, y = split(n, 100, 3, 32)
        coarse = (y // 5).to(torch.uint8).view(-1, 1)
        rows = torch.cat([coarse, y.to(torch.uint8).view(-1, 1), x.reshape(n, -1)], 1)
        write(os.path.join(a.out, "cifar100", name), rows.contiguous().numpy().tobytes())

    # STL-10: each channel column-major (the stored array is the transpose of each plane)
    d = os.path.join(a.out, "stl10", "stl10_binary")
    for prefix, n in (("train", a.train), ("test", a.test)):
        x, y = split(n, 10, 3, 96)
        write(os.path.join(d, f"{prefix}_X.bin"), x.transpose(2, 3).contiguous().numpy().tobytes())
        write(os.path.join(d, f"{prefix}_y.bin"), (y + 1).to(torch.uint8).numpy().tobytes())
    print(f"tiny datasets written under {a.out}")


if __name__ == "__main__":
    main()
