"""Pairwise box overlap, in numpy.

Why not `torchvision.ops.box_iou`: the face finder and the video tracker run on the way to the app's first
label, which should wait neither for torchvision (whose import brings `torch._dynamo`) nor for torch. Same
formula, same output.
"""
from __future__ import annotations

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) intersection over union of boxes (N, 4) and (M, 4) given as x1, y1, x2, y2."""
    a, b = (np.asarray(x) if np.issubdtype(np.asarray(x).dtype, np.floating) else np.asarray(x, np.float32)
            for x in (a, b))
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(bottom_right - top_left, 0, None).prod(axis=2)
    return inter / (area_a[:, None] + area_b[None, :] - inter)
