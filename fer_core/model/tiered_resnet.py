"""timm's `resnet10t` rebuilt from `torch.nn` alone, with timm's module names, for inference.

Why: timm imports torchvision, and torchvision's `ops` import `torch._dynamo`; together that is ~1.5 s of a
cold start on 2 cores, before the first face can be read. The built-in model is a plain resnet10t, so the
app loads its weights into this twin instead and the first label waits only for torch. Training, and every
other architecture, still build through `timm.create_model` (`ModelSpec.create`), so the weights always
come from timm's network; `tests/model/test_tiered_resnet.py` checks that both give the same logits on real
faces, and loading is strict, so a drift between the two would fail loudly.
"""
from __future__ import annotations

import torch
from torch import nn


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """timm's BasicBlock without drop-block, anti-aliasing, SE or drop-path (all off in resnet10t)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1, self.bn1, self.act1 = _conv3x3(cin, cout, stride), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
        self.conv2, self.bn2, self.act2 = _conv3x3(cout, cout), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or cin != cout:  # timm's avg_down shortcut: average-pool, then a 1x1 convolution
            pool = nn.AvgPool2d(2, stride, ceil_mode=True, count_include_pad=False) if stride > 1 else nn.Identity()
            self.downsample = nn.Sequential(pool, nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        x = self.act1(self.bn1(self.conv1(x)))
        x = self.bn2(self.conv2(x))
        return self.act2(x + shortcut)


class TieredResNet10(nn.Module):
    """resnet10t: a deep "tiered" stem (3x3 convolutions of 24, 32 and 64 channels), a max-pool, and one
    BasicBlock per stage (64, 128, 256, 512 channels), average-pooled into a linear head."""

    def __init__(self, num_classes: int = 8, in_chans: int = 1, stem_pool: bool = True) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(
            _conv3x3(in_chans, 24, 2), nn.BatchNorm2d(24), nn.ReLU(inplace=True),
            _conv3x3(24, 32), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
            _conv3x3(32, 64))
        self.bn1, self.act1 = nn.BatchNorm2d(64), nn.ReLU(inplace=True)
        self.maxpool: nn.Module = nn.MaxPool2d(3, 2, 1) if stem_pool else nn.Identity()
        widths = (64, 128, 256, 512)
        self.layer1 = nn.Sequential(BasicBlock(64, widths[0], 1))
        self.layer2 = nn.Sequential(BasicBlock(widths[0], widths[1], 2))
        self.layer3 = nn.Sequential(BasicBlock(widths[1], widths[2], 2))
        self.layer4 = nn.Sequential(BasicBlock(widths[2], widths[3], 2))
        self.fc = nn.Linear(widths[3], num_classes)

    def get_classifier(self) -> nn.Linear:
        return self.fc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.act1(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(x.mean(dim=(2, 3)))
