"""What every face detector gives and takes: `Detection`, the `FaceDetector` protocol, and the input helpers
they share. Every detector takes an HxWx3 uint8 RGB image and returns `Detection`s in input-pixel coordinates,
sorted by score (best first), and is safe to share between threads.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from fer_core.imageio import array_to_rgb

LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")  # "left" = image left


@dataclass(frozen=True)
class Detection:
    """One face: box (x, y, w, h) in input pixels, confidence in [0, 1], optional (5, 2) landmarks."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray | None = None  # (5, 2) float32 x, y in LANDMARK_NAMES order, or None


class FaceDetector(Protocol):
    """What the rest of fer_core relies on; `detect` must tolerate concurrent calls on one instance."""

    name: str

    def detect(self, rgb: np.ndarray) -> list[Detection]: ...


def detector_input(image: np.ndarray) -> np.ndarray | None:
    """HxWx3 uint8 for a detector (grey, RGBA, uint16 and float frames too), or None for an empty frame."""
    arr = np.asarray(image)
    return None if arr.size == 0 else array_to_rgb(arr)


def downscale(image: np.ndarray, max_side: int | None) -> tuple[np.ndarray, float]:
    """Shrink so the longer side is at most `max_side` (detection cost grows with pixels, faces stay findable).

    Returns the working copy and the factor that maps its coordinates back to the input (input = work * factor).
    """
    h, w = image.shape[:2]
    longest = max(h, w)
    if not max_side or longest <= max_side:
        return image, 1.0
    ratio = max_side / longest
    size = (max(1, round(w * ratio)), max(1, round(h * ratio)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return small, w / size[0]


