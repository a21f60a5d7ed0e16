"""Perturbations of aligned face crops, for the robustness report and the Robustness page.

They are defined on aligned crops: FER2013 test faces and the app's aligned crops share one geometry
(`align.FER_TEMPLATE`), so "eyes occluded" covers the eyes on both, and a visitor's photo gets exactly what
the test set got. Every function takes and returns uint8 (H, W) or (H, W, 3) arrays of any size.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from fer_core.detection.align import FER_TEMPLATE

EYE_Y = float(FER_TEMPLATE[:2, 1].mean())
MOUTH_Y = float(FER_TEMPLATE[3:, 1].mean())
BLUR_SIGMA = 1.5 / 48  # Gaussian sigma as a fraction of the crop side: 1.5 px on a 48 px FER face
JPEG_QUALITY = 20
ROTATION_DEG = 20.0


def _bar(crop: np.ndarray, y_centre: float, half_height: float, x0: float, x1: float) -> np.ndarray:
    """A black bar (sunglasses, a hand, a mask) across the given band, in crop-side fractions."""
    h, w = crop.shape[:2]
    out = crop.copy()
    out[int(round((y_centre - half_height) * h)): int(round((y_centre + half_height) * h)),
        int(round(x0 * w)): int(round(x1 * w))] = 0
    return out


def occlude_eyes(crop: np.ndarray) -> np.ndarray:
    return _bar(crop, EYE_Y, 0.1, 0.12, 0.88)


def occlude_mouth(crop: np.ndarray) -> np.ndarray:
    return _bar(crop, MOUTH_Y, 0.11, 0.2, 0.8)


def scale_brightness(crop: np.ndarray, factor: float) -> np.ndarray:
    return np.clip(crop.astype(np.float32) * factor, 0, 255).round().astype(np.uint8)


def gaussian_blur(crop: np.ndarray, sigma_fraction: float = BLUR_SIGMA) -> np.ndarray:
    return cv2.GaussianBlur(crop, (0, 0), sigmaX=sigma_fraction * crop.shape[1])


def rotate(crop: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate about the centre (positive = anticlockwise), filling the corners by replicating the border."""
    h, w = crop.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(crop, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def jpeg(crop: np.ndarray, quality: int = JPEG_QUALITY) -> np.ndarray:
    """Encode and decode as JPEG at `quality` (colour crops keep their RGB order)."""
    bgr = crop if crop.ndim == 2 else cv2.cvtColor(crop, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return out if crop.ndim == 2 else cv2.cvtColor(out, cv2.COLOR_BGR2RGB)


@dataclass(frozen=True)
class Perturbation:
    title: str  # short, for tables and pickers
    what: str  # one plain sentence for the page
    apply: Callable[[np.ndarray], np.ndarray]


PERTURBATIONS: dict[str, Perturbation] = {
    "eyes_occluded": Perturbation("Eyes covered", "A black bar over both eyes, like dark sunglasses.",
                                  occlude_eyes),
    "mouth_occluded": Perturbation("Mouth covered", "A black bar over the mouth, like a hand or a mask.",
                                   occlude_mouth),
    "brightness_0.5": Perturbation("Darker (x0.5)", "Every pixel at half its brightness, like a dim room.",
                                   lambda c: scale_brightness(c, 0.5)),
    "brightness_1.5": Perturbation("Brighter (x1.5)", "Every pixel 1.5 times as bright, like a flash; "
                                   "light areas wash out.", lambda c: scale_brightness(c, 1.5)),
    "blur": Perturbation("Blurred", "A Gaussian blur, like an out-of-focus camera (1.5 px on a 48 px face).",
                         gaussian_blur),
    "rotate_+20": Perturbation("Tilted left (20°)", "The face turned 20 degrees anticlockwise.",
                               lambda c: rotate(c, ROTATION_DEG)),
    "rotate_-20": Perturbation("Tilted right (20°)", "The face turned 20 degrees clockwise.",
                               lambda c: rotate(c, -ROTATION_DEG)),
    "jpeg_20": Perturbation("Heavy JPEG (quality 20)", "Saved as a very compressed JPEG, with blocky "
                            "artefacts.", lambda c: jpeg(c, JPEG_QUALITY)),
}


def perturb(crop: np.ndarray, name: str) -> np.ndarray:
    """Apply the named perturbation to one crop."""
    if name not in PERTURBATIONS:
        raise ValueError(f"unknown perturbation {name!r}; choose one of {', '.join(PERTURBATIONS)}")
    return PERTURBATIONS[name].apply(np.ascontiguousarray(crop))


def perturb_many(crops: np.ndarray, name: str) -> np.ndarray:
    """The named perturbation on every crop of a stack."""
    return np.stack([perturb(c, name) for c in crops])
