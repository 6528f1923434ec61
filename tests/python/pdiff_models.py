"""PyTorch definitions of pdiff's six classifier architectures (src/models/*.cpp).

State-dict names, shapes and forward computations match the C++ models, so a base.pt written
by pdiff loads with load_state_dict(strict=True) and gives the same predictions. The C++ fast
paths (fused BN+pool+ReLU, Winograd tails, cached block tails) are left out: they compute the
same functions. Use with Debian's python3-torch (/usr/bin/python3).

    build(arch, in_channels, image_size, num_classes, mlp_hidden=(128,), vit_patch=4)
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

ARCHS = ("mlp", "convnet4", "resnet18", "resnet50", "vit_tiny", "convnext_tiny")


# --- mlp (src/models/mlp.cpp) ------------------------------------------------------------------
class Mlp(nn.Module):
    """flatten, then Linear+ReLU per hidden width, then Linear to the classes; fc1, fc2, ..."""

    def __init__(self, in_channels, image_size, num_classes, hidden=(128,)):
        super().__init__()
        widths = [in_channels * image_size * image_size] + [int(h) for h in hidden] + [num_classes]
        if any(w <= 0 for w in widths[1:-1]):
            raise ValueError(f"mlp_hidden: every hidden width must be positive, got {list(hidden)}")
        self.num_layers = len(widths) - 1
        for i in range(self.num_layers):
            self.add_module(f"fc{i + 1}", nn.Linear(widths[i], widths[i + 1]))

    def forward(self, x):
        x = x.flatten(1)
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i + 1}")(x)
            if i + 1 < self.num_layers:
                x = F.relu(x)
        return x


# --- convnet4 (src/models/convnet4.cpp) --------------------------------------------------------
class ConvNet4(nn.Module):
    """Four Conv3x3(no bias)-BN-ReLU blocks (32/64/128/256), MaxPool2d(2) after blocks 1-3,
    global average pool, Linear. (C++ pools before the ReLU; the two commute.)"""

    def __init__(self, in_channels=1, image_size=28, num_classes=10):
        super().__init__()
        if image_size < 8:
            raise ValueError(f"convnet4 needs images of at least 8 px, got {image_size}")
        c = [in_channels, 32, 64, 128, 256]
        for i in range(4):
            self.add_module(f"conv{i + 1}", nn.Conv2d(c[i], c[i + 1], 3, padding=1, bias=False))
            self.add_module(f"bn{i + 1}", nn.BatchNorm2d(c[i + 1]))
        self.fc = nn.Linear(c[4], num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = F.max_pool2d(F.relu(self.bn3(self.conv3(x))), 2)
        x = F.relu(self.bn4(self.conv4(x))).mean((2, 3))
        return self.fc(x)


# --- resnet18 / resnet50 (src/models/resnet.cpp) -----------------------------------------------
def _conv(cin, cout, kernel, stride):
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = _conv(cin, planes, 3, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv(planes, planes, 3, 1)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(_conv(cin, planes, 1, stride), nn.BatchNorm2d(planes))

    def forward(self, x):
        h = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        s = self.downsample(x) if self.downsample is not None else x
        return F.relu(h + s)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 with the stride (ResNet v1.5), 1x1 expand (x4)."""

    expansion = 4

    def __init__(self, cin, planes, stride):
        super().__init__()
        out = planes * self.expansion
        self.conv1 = _conv(cin, planes, 1, 1)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv(planes, planes, 3, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = _conv(planes, out, 1, 1)
        self.bn3 = nn.BatchNorm2d(out)
        self.downsample = None
        if stride != 1 or cin != out:
            self.downsample = nn.Sequential(_conv(cin, out, 1, stride), nn.BatchNorm2d(out))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        h = self.bn3(self.conv3(h))
        s = self.downsample(x) if self.downsample is not None else x
        return F.relu(h + s)


class ResNet(nn.Module):
    """CIFAR stem (3x3 stride-1 conv1, bn1, ReLU, no max-pool), layer1..4, global average
    pool, fc. torchvision names."""

    def __init__(self, depth, in_channels=3, image_size=32, num_classes=10):
        super().__init__()
        if image_size < 8:
            raise ValueError(f"resnet{depth} needs images of at least 8 px, got {image_size}")
        block, per_layer = {18: (BasicBlock, (2, 2, 2, 2)), 50: (Bottleneck, (3, 4, 6, 3))}[depth]
        self.conv1 = _conv(in_channels, 64, 3, 1)
        self.bn1 = nn.BatchNorm2d(64)
        cin = 64
        for l, (planes, n) in enumerate(zip((64, 128, 256, 512), per_layer)):
            blocks = []
            for b in range(n):
                blocks.append(block(cin, planes, 2 if (l > 0 and b == 0) else 1))
                cin = planes * block.expansion
            self.add_module(f"layer{l + 1}", nn.ModuleList(blocks))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        for l in range(1, 5):
            for blk in getattr(self, f"layer{l}"):
                x = blk(x)
        return self.fc(x.mean((2, 3)))


# --- vit_tiny (src/models/vit.cpp) -------------------------------------------------------------
class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        hd = C // self.heads
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
        attn = attn.softmax(-1)
        return self.proj(torch.matmul(attn, v).transpose(1, 2).reshape(B, N, C))


class FeedForward(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))  # exact (erf) GELU, as torch::gelu


class VitBlock(nn.Module):
    def __init__(self, dim, heads, mlp_ratio, eps):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = FeedForward(dim, mlp_ratio * dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, in_channels, dim, patch):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, patch, stride=patch)


class Vit(nn.Module):
    """ViT-Tiny: width 192, 12 pre-norm blocks, 3 heads, MLP ratio 4, class token, learned
    position embedding, LayerNorm eps 1e-6. timm names."""

    def __init__(self, in_channels=1, image_size=28, num_classes=10, patch=4, dim=192, depth=12, heads=3,
                 mlp_ratio=4, eps=1e-6):
        super().__init__()
        if patch <= 0 or image_size % patch != 0:
            raise ValueError(f"model.vit_patch = {patch} does not divide the image size {image_size} px")
        grid = image_size // patch
        self.patch_embed = PatchEmbed(in_channels, dim, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + grid * grid, dim))
        self.blocks = nn.ModuleList([VitBlock(dim, heads, mlp_ratio, eps) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.patch_embed.proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.norm(x)[:, 0])


# --- convnext_tiny (src/models/convnext.cpp) ---------------------------------------------------
class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of (B, C, H, W); parameters weight, bias (C)."""

    def __init__(self, channels, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, (self.weight.shape[0],), self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class ConvNextMlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)


class ConvNextBlock(nn.Module):
    def __init__(self, dim, mlp_ratio=4, eps=1e-6, layer_scale=1e-6):
        super().__init__()
        self.conv_dw = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.mlp = ConvNextMlp(dim, mlp_ratio * dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x):
        h = self.conv_dw(x).permute(0, 2, 3, 1)
        h = self.mlp.fc2(F.gelu(self.mlp.fc1(self.norm(h))))
        return x + (h * self.gamma).permute(0, 3, 1, 2)


class ConvNextStage(nn.Module):
    def __init__(self, cin, dim, depth, eps):
        super().__init__()
        self.downsample = None
        if cin is not None:
            self.downsample = nn.Sequential(LayerNorm2d(cin, eps), nn.Conv2d(cin, dim, 2, stride=2))
        self.blocks = nn.ModuleList([ConvNextBlock(dim, eps=eps) for _ in range(depth)])

    def forward(self, x):
        if self.downsample is not None:
            x = self.downsample(x)
        for blk in self.blocks:
            x = blk(x)
        return x


class ConvNextHead(nn.Module):
    def __init__(self, dim, num_classes, eps):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.fc = nn.Linear(dim, num_classes)


class ConvNext(nn.Module):
    """ConvNeXt-Tiny for small images: depths (3, 3, 9, 3), widths (96, 192, 384, 768), 2x2
    stride-2 stem. timm names."""

    def __init__(self, in_channels=3, image_size=32, num_classes=10, depths=(3, 3, 9, 3), dims=(96, 192, 384, 768),
                 stem_patch=2, eps=1e-6):
        super().__init__()
        if image_size < 16:
            raise ValueError(f"convnext_tiny needs images of at least 16 px, got {image_size}")
        self.stem = nn.Sequential(nn.Conv2d(in_channels, dims[0], stem_patch, stride=stem_patch),
                                  LayerNorm2d(dims[0], eps))
        self.stages = nn.ModuleList(
            [ConvNextStage(dims[s - 1] if s > 0 else None, dims[s], depths[s], eps) for s in range(4)])
        self.head = ConvNextHead(dims[3], num_classes, eps)

    def forward(self, x):
        x = self.stem(x)
        for st in self.stages:
            x = st(x)
        return self.head.fc(self.head.norm(x.mean((2, 3))))


def build(arch, in_channels, image_size, num_classes, mlp_hidden=(128,), vit_patch=4):
    """The classifier pdiff builds for model.arch = arch on the given images."""
    if arch == "mlp":
        return Mlp(in_channels, image_size, num_classes, mlp_hidden)
    if arch == "convnet4":
        return ConvNet4(in_channels, image_size, num_classes)
    if arch == "resnet18":
        return ResNet(18, in_channels, image_size, num_classes)
    if arch == "resnet50":
        return ResNet(50, in_channels, image_size, num_classes)
    if arch == "vit_tiny":
        return Vit(in_channels, image_size, num_classes, patch=int(vit_patch))
    if arch == "convnext_tiny":
        return ConvNext(in_channels, image_size, num_classes)
    raise ValueError(f"unknown architecture {arch!r}; use one of {', '.join(ARCHS)}")
