"""Evaluation of a checkpoint on a labelled dataset, on face crops or through the full detect pipeline."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fer_core.evaluation.metrics import evaluate_crops
from fer_core.model.checkpoint import load_model
from fer_core.training.data import load_dataset


def evaluate_dataset(data: str | Path, layout: str = "auto", split: str = "test", model: str | None = None,
                     detect: bool = False, detector: str | None = None, limit: int = 0) -> dict[str, Any]:
    """Protocol metrics; with `detect`, faces are found and aligned first (the whole image is the
    fallback crop when no face is found, and `faces_found` reports how often that happened)."""
    loaded = load_model(model)
    if not detect:
        ds = load_dataset(data, layout, split, loaded.spec.source_size)
        if limit:
            ds = ds.subset(np.arange(min(limit, len(ds))))
        out = evaluate_crops(loaded.fast, loaded.spec, ds.images, ds.labels)
        out["mode"] = "crops"
        return out
    from fer_core.detection.registry import DEFAULT_DETECTOR
    from fer_core.evaluation.detected_crops import detected_crops
    from fer_core.recognizer import Recognizer

    rec = Recognizer(loaded, detector=detector or DEFAULT_DETECTOR)
    ds, found = detected_crops(data, rec, layout, split, loaded.spec.source_size, limit=limit)
    out = evaluate_crops(loaded.fast, loaded.spec, ds.images, ds.labels)
    out.update(mode="detect", detector=rec.detector.name, faces_found=float(found.mean()) if len(found) else 0.0)
    return out
