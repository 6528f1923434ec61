#!/usr/bin/python3
"""Self-test of pdiff_data.py's readers on files written here (no dataset needed).

Usage: /usr/bin/python3 tests/python/test_pdiff_data.py   (prints `test_pdiff_data: OK`)
"""
import gzip
import os
import struct
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pdiff_data  # noqa: E402


def main():
    gen = torch.Generator().manual_seed(1)
    with tempfile.TemporaryDirectory() as d:
        # STL-10: a plane stored column-major reads back row-major; labels 1..10 -> 0..9.
        x = torch.randint(0, 256, (5, 3, 96, 96), generator=gen, dtype=torch.uint8)
        x[0, 0, 0, :] = torch.arange(96, dtype=torch.uint8)  # first row 0..95
        y = torch.tensor([1, 10, 3, 4, 5], dtype=torch.uint8)
        sub = os.path.join(d, "stl10_binary")
        os.makedirs(sub)
        for split, n in (("train", 5), ("test", 3)):
            with open(os.path.join(sub, f"{split}_X.bin"), "wb") as f:
                f.write(x[:n].transpose(2, 3).contiguous().numpy().tobytes())
            with open(os.path.join(sub, f"{split}_y.bin"), "wb") as f:
                f.write(y[:n].numpy().tobytes())
        got, labels = pdiff_data.read_stl10_bin(os.path.join(sub, "train_X.bin"), os.path.join(sub, "train_y.bin"))
        assert torch.equal(got, x), "STL-10 images not transposed back"
        assert labels.tolist() == [0, 9, 2, 3, 4], labels
        mean, std = pdiff_data.channel_stats(x)
        ref = x.double() / 255.0
        for c in range(3):
            assert abs(mean[c] - ref[:, c].mean().item()) < 1e-12
            assert abs(std[c] - ref[:, c].std(unbiased=False).item()) < 1e-12  # population std
        imgs, labs = pdiff_data.load_test("stl10", d, 2)  # root/stl10_binary, first 2 test images
        assert imgs.shape == (2, 3, 96, 96) and labs.tolist() == [0, 9]
        m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        s = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        assert torch.equal(imgs, (x[:2].float() / 255.0 - m) / s)

        # CIFAR-100: the fine (second) label byte; CIFAR-10 one byte; root or subfolder.
        px = torch.randint(0, 256, (4, 3 * 32 * 32), generator=gen, dtype=torch.uint8)
        rows = torch.cat([torch.tensor([[1, 42], [2, 7], [3, 99], [0, 0]], dtype=torch.uint8), px], 1)
        with open(os.path.join(d, "test.bin"), "wb") as f:
            f.write(rows.numpy().tobytes())
        imgs, labs = pdiff_data.load_test("cifar100", d, 3)
        assert labs.tolist() == [42, 7, 99] and imgs.shape == (3, 3, 32, 32)
        c10 = os.path.join(d, "cifar-10-batches-bin")
        os.makedirs(c10)
        with open(os.path.join(c10, "test_batch.bin"), "wb") as f:
            f.write(torch.cat([torch.tensor([[5], [9]], dtype=torch.uint8), px[:2]], 1).numpy().tobytes())
        imgs, labs = pdiff_data.load_test("cifar10", d)
        assert labs.tolist() == [5, 9]
        mean10, std10 = pdiff_data.NORMALISATION["cifar10"]
        assert abs(imgs[1, 2, 0, 1].item() - (px[1, 2 * 1024 + 1].item() / 255.0 - mean10[2]) / std10[2]) < 1e-5

        # IDX, gzip and raw.
        im = torch.randint(0, 256, (3, 28, 28), generator=gen, dtype=torch.uint8)
        lb = torch.tensor([3, 1, 4], dtype=torch.uint8)
        head = lambda t: struct.pack(">HBB", 0, 8, t.dim()) + struct.pack(">" + "I" * t.dim(), *t.shape)
        with gzip.open(os.path.join(d, "t10k-images-idx3-ubyte.gz"), "wb") as f:
            f.write(head(im) + im.numpy().tobytes())
        with open(os.path.join(d, "t10k-labels-idx1-ubyte"), "wb") as f:
            f.write(head(lb) + lb.numpy().tobytes())
        imgs, labs = pdiff_data.load_test("mnist", d, 0)
        assert labs.tolist() == [3, 1, 4] and imgs.shape == (3, 1, 28, 28)
        assert torch.equal(imgs[:, 0], (im.float() / 255.0 - 0.1307) / 0.3081)
    print("test_pdiff_data: OK")


if __name__ == "__main__":
    main()
