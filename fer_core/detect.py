"""Face detection behind one small interface, so the recogniser never cares which detector runs.

Every detector takes an HxWx3 uint8 RGB image and returns `Detection`s in input-pixel coordinates, sorted by
score (best first). Detectors are safe to share between threads. Heavy imports (torch) happen only when the
detector that needs them is created.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import cv2
import numpy as np

from .imageio import array_to_rgb

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


def _create_haar(**kwargs) -> FaceDetector:
    from .detect_haar import HaarFaceDetector

    return HaarFaceDetector(**kwargs)


def _create_mtcnn(**kwargs) -> FaceDetector:
    from .detect_mtcnn import MTCNNFaceDetector

    return MTCNNFaceDetector(**kwargs)


DETECTORS: dict[str, Callable[..., FaceDetector]] = {"haar": _create_haar, "mtcnn": _create_mtcnn}

# Chosen by `python -m fer_core.detect_eval` (2-core machine, busy with training, torch threads 1):
#   haar   72/74 faces found, 1 false, 2 missed, ~30 ms per 640x480 frame, no landmarks
#   mtcnn  74/74 faces found, 0 false, 0 missed, ~11-13 ms per 640x480 frame (CPU), 5 landmarks
# MTCNN wins on accuracy and is also the faster one at its defaults (see detect_mtcnn.MTCNNFaceDetector).
DEFAULT_DETECTOR = "mtcnn"


def create_detector(name: str = DEFAULT_DETECTOR, **kwargs) -> FaceDetector:
    """Build a detector by registry name; kwargs go to its constructor (e.g. max_side, min_face_size)."""
    try:
        factory = DETECTORS[name]
    except KeyError:
        raise ValueError(f"unknown face detector {name!r}; choose one of {sorted(DETECTORS)}") from None
    return factory(**kwargs)
