"""Pairwise box overlap, in torch alone.

Why not `torchvision.ops.box_iou`: importing torchvision imports `torch._dynamo` (~1.3 s on 2 cores), and the
face finder runs on the app's first label, which should wait only for torch. Same formula, same output.
"""
from __future__ import annotations

import torch


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N, M) intersection over union of boxes (N, 4) and (M, 4) given as x1, y1, x2, y2."""
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    top_left = torch.max(a[:, None, :2], b[None, :, :2])
    bottom_right = torch.min(a[:, None, 2:], b[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(dim=2)
    return inter / (area_a[:, None] + area_b[None, :] - inter)
