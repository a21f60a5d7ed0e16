"""Photos -> the face crops the app would classify (detector, Face Mesh, alignment), as a FaceDataset.

Why one function: evaluating "through the detector" and training on photos (muxspace/train) must frame faces
exactly as the app does, and computing the crops once lets a training run score muxspace valid every epoch at
the cost of a crop evaluation.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from fer_core.model.preprocess import to_grey
from fer_core.training.data import FaceDataset, detector_canvas, load_dataset

PHOTO_SIZE = 192  # photos are read at this side first: detectors need more than FER's 48 px


def _reduce(grey: np.ndarray, size: int) -> np.ndarray:
    """(N, H, W) uint8 -> (N, size, size) uint8 with the antialiased resize `prepare_batch` uses."""
    x = torch.from_numpy(np.ascontiguousarray(grey)).float().unsqueeze(1)
    x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x.round_().clamp_(0, 255).byte().squeeze(1).numpy()


def detected_crops(data: str | Path, recognizer: Any, layout: str = "folders", split: str = "valid",
                   size: int = 48, limit: int = 0,
                   cache_dir: str | Path | None = None) -> tuple[FaceDataset, np.ndarray]:
    """Each photo's largest face, found and aligned as the app does, grey at `size` px; where no face is
    found, the whole photo (as `evaluate --detect` has always done). Returns (crops, found mask).
    `recognizer` is a `fer_core.Recognizer` (its detector and mesh settings are used, not its model)."""
    cache = None
    if cache_dir is not None:
        key = hashlib.sha1(f"{Path(data).resolve()}|{layout}|{split}|{size}|{limit}|"
                           f"{recognizer.detector.name}|{recognizer.mesh}".encode()).hexdigest()[:16]
        cache = Path(cache_dir) / f"detected-{split}-{size}-{key}.npz"
        if cache.exists():
            z = np.load(cache)
            return FaceDataset(z["images"], z["soft"], z["labels"], list(z["names"])), z["found"]
    photos = load_dataset(data, layout, split, PHOTO_SIZE)
    if limit:
        photos = photos.subset(np.arange(min(limit, len(photos))))
    crops, found = [], []
    for img in photos.images:
        rgb, _ = detector_canvas(img)
        dets = recognizer.detect(rgb)
        if dets:
            best = int(np.argmax([d.box[2] * d.box[3] for d in dets]))
            pick = [dets[best]]
            crop = recognizer.aligned_crops(rgb, pick, recognizer.fit_meshes(rgb, pick))
            crops.append(to_grey(crop)[0])
            found.append(True)
        else:
            crops.append(img)
            found.append(False)
    same = [_reduce(c[None], size)[0] for c in crops]
    ds = FaceDataset(np.stack(same), photos.soft, photos.labels, photos.names)
    found_arr = np.array(found, dtype=bool)
    if cache is not None:
        os.makedirs(cache.parent, exist_ok=True)
        np.savez(cache, images=ds.images, soft=ds.soft, labels=ds.labels, names=np.array(ds.names), found=found_arr)
    return ds, found_arr
