"""Batched face augmentation on CPU tensors: one affine warp for scale, shift, rotation and flip, then
brightness/contrast jitter and random erasing (occlusion). Vectorised, because a per-image Python loop
would cost more than the training step on 2 cores."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torchvision.transforms import v2


class FaceAugment:
    """Random scale, crop (shift), rotation, horizontal flip, brightness/contrast jitter, random erasing."""

    def __init__(self, out_size: int, scale: float = 0.15, shift: float = 0.1, degrees: float = 15.0,
                 brightness: float = 0.3, contrast: float = 0.3, erase_p: float = 0.5) -> None:
        self.out_size, self.scale, self.shift, self.degrees = out_size, scale, shift, degrees
        self.brightness, self.contrast = brightness, contrast
        self.erase = v2.RandomErasing(p=erase_p, scale=(0.02, 0.2), ratio=(0.3, 3.3), value=0)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """x: (N, 1, H, W) floats in [0, 1]. Returns (N, 1, out, out) in [0, 1]."""
        n = x.shape[0]
        g = generator

        def uniform(lo: float, hi: float) -> torch.Tensor:
            return torch.rand(n, generator=g) * (hi - lo) + lo

        angle = uniform(-self.degrees, self.degrees) * math.pi / 180
        zoom = uniform(1 - self.scale, 1 + self.scale)
        flip = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
        tx, ty = uniform(-self.shift, self.shift) * 2, uniform(-self.shift, self.shift) * 2
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        theta = torch.stack([torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1)
        grid = F.affine_grid(theta, [n, 1, self.out_size, self.out_size], align_corners=False)
        out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        mean = out.mean(dim=(1, 2, 3), keepdim=True)
        c = uniform(1 - self.contrast, 1 + self.contrast).view(n, 1, 1, 1)
        b = uniform(-self.brightness, self.brightness).view(n, 1, 1, 1) * 0.5
        out = ((out - mean) * c + mean + b).clamp_(0, 1)
        return torch.stack([self.erase(img) for img in out])
