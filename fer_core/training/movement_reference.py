"""The reference that facial movements are measured against: FER+ neutral faces, through the app's own path.

FER2013Train faces whose FER+ majority is neutral are put on the detector canvas (as `evaluate --detect`
does), found, meshed, and measured (`detection.movements.raw_measures`); the median of each movement is its
zero and the scaled median absolute deviation its typical spread. The result is a small JSON beside the mesh
weights, with the command that made it, so "mouth corners raised" always means raised more than on a
typical neutral face.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from fer_core.detection.movements import REFERENCE_PATH, Reference, raw_measures
from fer_core.labels import CLASSES
from fer_core.recognizer import Recognizer
from fer_core.training.data import detector_canvas, load_dataset


def neutral_samples(data: str | Path, faces: int = 2000, split: str = "train",
                    recognizer: Recognizer | None = None) -> tuple[list[dict[str, float]], int]:
    """Raw measures of up to `faces` neutral FER+ faces that the detector and the mesh both find; also how
    many faces were tried."""
    recognizer = recognizer or Recognizer()
    ds = load_dataset(data, "auto", split, 192, cache_dir=".cache/data")
    neutral = np.flatnonzero(ds.labels == CLASSES.index("neutral"))[:faces]
    samples = []
    for i in neutral:
        rgb, _ = detector_canvas(ds.images[i])
        found = [f for f in recognizer.analyze_rgb(rgb) if f.mesh is not None]
        if found:
            best = max(found, key=lambda f: f.box[2] * f.box[3])
            samples.append(raw_measures(best.mesh))
    return samples, len(neutral)


def write_reference(data: str | Path, faces: int = 2000, out: Path = REFERENCE_PATH,
                    command: str = "") -> dict[str, Any]:
    """Measure the neutral reference and write it to `out`; returns what was written."""
    samples, tried = neutral_samples(data, faces)
    if len(samples) < 50:
        raise ValueError(f"only {len(samples)} of {tried} neutral faces got a mesh: too few for a reference")
    reference = Reference.from_samples(f"FER+ neutral faces (median of {len(samples)} FER2013Train faces)",
                                       samples)
    doc = {**reference.to_json(), "faces_tried": tried, "faces_measured": len(samples),
           "units": "eye spacings (distance between the eye centres), eyes levelled", "command": command}
    out.write_text(json.dumps(doc, indent=2) + "\n")
    return doc
