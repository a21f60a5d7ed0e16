"""Batched face augmentation on CPU tensors: one affine warp for scale, shift, rotation and flip, then
brightness/contrast jitter, optional Gaussian blur (out-of-focus cameras) and random erasing (occlusion).
Vectorised, because a per-image Python loop would cost more than the training step on 2 cores."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF


class FaceAugment:
    """Random scale, crop (shift), rotation, horizontal flip, brightness/contrast jitter, blur, random erasing.

    `blur_p` is the share of faces blurred, with one sigma per batch drawn from `blur_sigma` (in pixels of a
    48 px face, scaled to `out_size`)."""

    def __init__(self, out_size: int, scale: float = 0.15, shift: float = 0.1, degrees: float = 15.0,
                 brightness: float = 0.3, contrast: float = 0.3, erase_p: float = 0.5, blur_p: float = 0.0,
                 blur_sigma: tuple[float, float] = (0.5, 2.0)) -> None:
        self.out_size, self.scale, self.shift, self.degrees = out_size, scale, shift, degrees
        self.brightness, self.contrast = brightness, contrast
        self.blur_p, self.blur_sigma = blur_p, blur_sigma
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
        if self.blur_p > 0:
            out = self._blur_some(out, g)
        return torch.stack([self.erase(img) for img in out])

    def _blur_some(self, out: torch.Tensor, g: torch.Generator | None) -> torch.Tensor:
        pick = torch.rand(out.shape[0], generator=g) < self.blur_p
        if not pick.any():
            return out
        lo, hi = self.blur_sigma
        sigma = float(torch.rand(1, generator=g) * (hi - lo) + lo) * self.out_size / 48
        kernel = 2 * math.ceil(3 * sigma) + 1
        out[pick] = TF.gaussian_blur(out[pick], [kernel, kernel], [sigma, sigma])
        return out
