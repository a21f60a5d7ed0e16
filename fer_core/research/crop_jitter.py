"""How far our detector + alignment framing strays from FER2013's own crops, against the training jitter.

A photo face reaches the model through MTCNN landmarks and `detection.align.landmark_transform`; a FER2013 face was
cropped by its makers. Running our pipeline on FER faces themselves (upscaled, with a replicated border,
as `evaluate --detect` does) gives, per face, the similarity transform between the two framings: its
scale, rotation and centre shift are the crop jitter the model meets in use. Training augmentation
(`augment.FaceAugment`) should cover that spread, so this reports both side by side.

    fer-lens crop-jitter [--faces 600] [--split valid] [--aug-scale 0.15 ...] [--json]
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from fer_core.detection.align import landmark_transform
from fer_core.detection.registry import create_detector
from fer_core.paths import shared_dir
from fer_core.training.augment import FaceAugment
from fer_core.training.data import detector_canvas, load_dataset

SIZE = 192  # detectors need more than FER's 48 px


def framing_offsets(images: np.ndarray, detector: str = "mtcnn") -> dict[str, np.ndarray]:
    """Per face with landmarks: zoom (crop px per FER px; 1 = same framing), rotation in degrees, and the
    FER centre's shift in the aligned crop, as a fraction of the crop side."""
    det = create_detector(detector)
    zoom, angle, dx, dy = [], [], [], []
    for img in images:
        canvas, pad = detector_canvas(img)
        faces = [d for d in det.detect(canvas) if d.landmarks is not None]
        if not faces:
            continue
        best = max(faces, key=lambda d: d.box[2] * d.box[3])
        m = landmark_transform(best.landmarks, SIZE)
        centre = m @ np.array([pad + SIZE / 2, pad + SIZE / 2, 1.0])
        zoom.append(math.hypot(m[0, 0], m[1, 0]))
        angle.append(math.degrees(math.atan2(m[1, 0], m[0, 0])))
        dx.append(centre[0] / SIZE - 0.5)
        dy.append(centre[1] / SIZE - 0.5)
    return {k: np.array(v) for k, v in (("zoom", zoom), ("angle", angle), ("dx", dx), ("dy", dy))}


def jitter_report(faces: int = 600, split: str = "valid", detector: str = "mtcnn", data: str | None = None,
                  augment: FaceAugment | None = None) -> dict[str, Any]:
    ds = load_dataset(data or shared_dir() / "data" / "ferplus", "auto", split, SIZE)
    idx = np.random.default_rng(0).permutation(len(ds))[:faces]
    off = framing_offsets(ds.images[idx], detector)
    aug = augment or FaceAugment(64)
    limits = {"zoom": (1 - aug.scale, 1 + aug.scale), "angle": (-aug.degrees, aug.degrees),
              "dx": (-aug.shift, aug.shift), "dy": (-aug.shift, aug.shift)}
    out: dict[str, Any] = {"faces": int(len(idx)), "with_landmarks": int(len(off["zoom"])), "split": split,
                           "detector": detector, "per_axis": {}}
    for axis, values in off.items():
        lo, hi = limits[axis]
        out["per_axis"][axis] = {
            "p5": round(float(np.percentile(values, 5)), 4), "median": round(float(np.median(values)), 4),
            "p95": round(float(np.percentile(values, 95)), 4),
            "training_range": [round(lo, 4), round(hi, 4)],
            "share_inside_training_range": round(float(((values >= lo) & (values <= hi)).mean()), 4)}
    inside = np.ones(len(off["zoom"]), bool)
    for axis, values in off.items():
        lo, hi = limits[axis]
        inside &= (values >= lo) & (values <= hi)
    out["share_inside_on_every_axis"] = round(float(inside.mean()), 4)
    return out
