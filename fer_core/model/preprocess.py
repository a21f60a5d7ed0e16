"""Face crops -> the classifier's input, exactly as a checkpoint's spec says, and logits -> scores.

Light on purpose: recognition needs it, and it must not pull in scikit-learn or Captum. The crops' path
(`crops_to_array`) is numpy and OpenCV alone, so the first label never waits for torch; it resamples with
the very filters torch's `F.interpolate` uses (`bilinear`, with and without `antialias`), written as
matrices, so a crop gives the same input either way (tests/model/test_preprocess_parity.py). Training keeps
torch's own resampling on its batches (`prepare_batch`).
"""
from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import cv2
import numpy as np

from fer_core.model.spec import ModelSpec

if TYPE_CHECKING:
    import torch


@lru_cache(maxsize=64)
def resize_matrix(in_size: int, out_size: int, antialias: bool) -> np.ndarray:
    """(out, in) weights of torch's `F.interpolate(mode="bilinear", align_corners=False)` along one axis:
    with `antialias` and a smaller output, a triangle filter widened to the scale (ATen's
    `_compute_indices_min_size_weights_aa`); otherwise plain linear interpolation between the two nearest
    pixels, edges clamped (ATen's `area_pixel_compute_source_index`)."""
    scale = in_size / out_size
    weights = np.zeros((out_size, in_size), np.float64)
    if antialias and scale > 1.0:
        for i in range(out_size):
            centre = scale * (i + 0.5)
            first = max(int(centre - scale + 0.5), 0)
            last = min(int(centre + scale + 0.5), in_size)
            taps = np.arange(first, last)
            w = np.clip(1.0 - np.abs((taps - centre + 0.5) / scale), 0.0, None)
            weights[i, first:last] = w / w.sum() if w.sum() > 0 else w
        return weights.astype(np.float32)
    for i in range(out_size):
        src = max(scale * (i + 0.5) - 0.5, 0.0)
        low = min(int(src), in_size - 1)
        high = low + (low < in_size - 1)
        frac = src - low
        weights[i, low] += 1.0 - frac
        weights[i, high] += frac
    return weights.astype(np.float32)


def resize_batch(x: np.ndarray, size: int, antialias: bool) -> np.ndarray:
    """(N, C, H, W) float32 -> (N, C, size, size), as torch's bilinear `F.interpolate` would give it."""
    rows = resize_matrix(x.shape[-2], size, antialias)
    cols = resize_matrix(x.shape[-1], size, antialias)
    return np.matmul(np.matmul(rows, x), cols.T)


def _normalised(x: np.ndarray, spec: ModelSpec) -> np.ndarray:
    mean = np.asarray(spec.mean, np.float32).reshape(1, -1, 1, 1)
    std = np.asarray(spec.std, np.float32).reshape(1, -1, 1, 1)
    return np.ascontiguousarray((x - mean) / std, dtype=np.float32)


def grey_to_array(images: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """uint8 (N, H, W) grey crops -> normalised (N, C, S, S) float32, as `prepare_batch` makes them."""
    x = np.asarray(images, np.float32)[:, None] / np.float32(255.0)
    if x.shape[-1] != spec.source_size:
        x = resize_batch(x, spec.source_size, antialias=True)
    if spec.source_size != spec.input_size:
        x = resize_batch(x, spec.input_size, antialias=False)
    if spec.in_chans == 3:
        x = np.repeat(x, 3, axis=1)
    return _normalised(x, spec)


def prepare_batch(images: np.ndarray, spec: ModelSpec) -> "torch.Tensor":
    """uint8 (N, H, W) grey crops -> normalised (N, C, S, S) float tensor as the spec requires (training)."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0).unsqueeze(1)
    if x.shape[-1] != spec.source_size:
        x = F.interpolate(x, size=(spec.source_size, spec.source_size), mode="bilinear", antialias=True,
                          align_corners=False)
    if spec.source_size != spec.input_size:
        x = F.interpolate(x, size=(spec.input_size, spec.input_size), mode="bilinear", align_corners=False)
    if spec.in_chans == 3:
        x = x.expand(-1, 3, -1, -1)
    mean = torch.tensor(spec.mean).view(1, -1, 1, 1)
    std = torch.tensor(spec.std).view(1, -1, 1, 1)
    return (x - mean) / std


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def to_grey(crops: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) RGB uint8 -> (N, H, W) grey uint8 with ITU-R 601 luma, as FER2013 is grey."""
    if not len(crops):
        return np.zeros((0, 1, 1), np.uint8)
    return np.stack([cv2.cvtColor(c, cv2.COLOR_RGB2GRAY) for c in crops])


def crops_to_array(crops: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """Aligned RGB crops -> the normalised float32 (N, C, S, S) array the classifier expects."""
    if spec.in_chans == 1:
        return grey_to_array(to_grey(crops), spec)
    x = np.asarray(crops, np.float32).transpose(0, 3, 1, 2) / np.float32(255.0)
    return _normalised(resize_batch(x, spec.input_size, antialias=True), spec)


def crops_to_input(crops: np.ndarray, spec: ModelSpec) -> "torch.Tensor":
    """`crops_to_array` as a torch tensor, for the torch classifier and the explanations."""
    import torch

    return torch.from_numpy(crops_to_array(crops, spec))


def model_view(crop: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """What the classifier actually sees for one crop, as a displayable uint8 image."""
    x = crops_to_array(crop[None], spec)[0]
    mean = np.asarray(spec.mean, np.float32).reshape(-1, 1, 1)
    std = np.asarray(spec.std, np.float32).reshape(-1, 1, 1)
    img = (np.clip(x * std + mean, 0, 1) * 255).astype(np.uint8).transpose(1, 2, 0)
    return img[:, :, 0] if img.shape[2] == 1 else img
