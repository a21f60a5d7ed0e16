"""Face crops -> the classifier's input tensor, exactly as a checkpoint's spec says, and logits -> scores.

Light on purpose (numpy, OpenCV, torch): recognition needs it, and it must not pull in scikit-learn or Captum.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from fer_core.model.spec import ModelSpec


def prepare_batch(images: np.ndarray, spec: ModelSpec) -> torch.Tensor:
    """uint8 (N, H, W) grey crops -> normalised (N, C, S, S) float tensor as the spec requires."""
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


def crops_to_input(crops: np.ndarray, spec: ModelSpec) -> torch.Tensor:
    """Aligned RGB crops -> the normalised tensor the classifier expects (size, channels, mean/std)."""
    if spec.in_chans == 1:
        return prepare_batch(to_grey(crops), spec)
    x = torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float().div_(255.0)
    x = torch.nn.functional.interpolate(x, size=(spec.input_size, spec.input_size), mode="bilinear",
                                        antialias=True, align_corners=False)
    mean = torch.tensor(spec.mean).view(1, -1, 1, 1)
    std = torch.tensor(spec.std).view(1, -1, 1, 1)
    return (x - mean) / std


def model_view(crop: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """What the classifier actually sees for one crop, as a displayable uint8 image."""
    x = crops_to_input(crop[None], spec)[0]
    mean = torch.tensor(spec.mean).view(-1, 1, 1)
    std = torch.tensor(spec.std).view(-1, 1, 1)
    img = (x * std + mean).clamp(0, 1).mul(255).byte().permute(1, 2, 0).numpy()
    return img[:, :, 0] if img.shape[2] == 1 else img


