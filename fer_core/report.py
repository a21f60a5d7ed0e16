"""Results of one analysed photo as the app, the tests and the command line all want them: the "uncertain"
rule, one table row per face, and CSV / JSON / PNG exports built in memory (nothing is written to disk).
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import cv2
import numpy as np

from fer_core.evaluation.uncertainty import UNCERTAIN_MARGIN, UNCERTAIN_TOP, is_uncertain, uncertainty
from fer_core.imageio import ImageLoadError, load_image
from fer_core.recognizer import FaceResult, Recognizer


def ranked(probs: dict[str, float]) -> list[tuple[str, float]]:
    """(class, probability) pairs, most likely first."""
    return sorted(probs.items(), key=lambda kv: -kv[1])


@dataclass
class PhotoResult:
    """One input file: its faces, or the reason it could not be read. `rgb` is None when it failed."""

    name: str
    digest: str  # sha256 of the file bytes: the cache key for this photo
    rgb: np.ndarray | None = field(default=None, repr=False)
    faces: list[FaceResult] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict:
        d: dict = {"file": self.name, "sha256": self.digest}
        if self.error:
            d["error"] = self.error
        if self.rgb is not None:
            d["width"], d["height"] = int(self.rgb.shape[1]), int(self.rgb.shape[0])
        d["faces"] = [dict(f.to_json(), uncertain=is_uncertain(f.probs)) for f in self.faces]
        return d


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def analyze_photo(recognizer: Recognizer, name: str, data: bytes, max_bytes: int | None = None) -> PhotoResult:
    """Decode and analyse one file; unreadable or oversized files come back with `error` set instead of
    raising, so one bad file never stops the others."""
    key = digest(data)
    if max_bytes and len(data) > max_bytes:
        return PhotoResult(name, key, error=f"the file is {len(data) / 2**20:.1f} MB; the limit is "
                                            f"{max_bytes / 2**20:.0f} MB per file. Please make it smaller.")
    try:
        rgb = load_image(data)
    except ImageLoadError as exc:
        return PhotoResult(name, key, error=str(exc))
    return PhotoResult(name, key, rgb, recognizer.analyze_rgb(rgb))


# ---- table and exports ------------------------------------------------------------------------------------

def result_rows(results: Iterable[PhotoResult]) -> list[dict]:
    """One flat row per face (and one per photo without faces or with an error), for tables and CSV.

    Columns: file, face, expression, confidence, uncertain, x, y, w, h, note, then one column per class.
    """
    rows: list[dict] = []
    for r in results:
        if not r.faces:
            rows.append({"file": r.name, "face": None, "expression": None, "confidence": None,
                         "uncertain": None, "x": None, "y": None, "w": None, "h": None,
                         "note": r.error or "no face found"})
            continue
        for i, f in enumerate(r.faces, 1):
            x, y, w, h = (int(round(v)) for v in f.box)
            why = uncertainty(f.probs)
            rows.append({"file": r.name, "face": i, "expression": f.label, "confidence": round(f.confidence, 4),
                         "uncertain": why is not None, "x": x, "y": y, "w": w, "h": h,
                         "note": f"uncertain: {why}" if why else "",
                         **{c: round(p, 4) for c, p in f.probs.items()}})
    return rows


def to_csv(rows: Sequence[dict]) -> bytes:
    """UTF-8 CSV of `result_rows` (columns from the first row that has them all)."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    return buf.getvalue().encode("utf-8")


def to_json(results: Iterable[PhotoResult], **extra) -> bytes:
    """Pretty JSON: {"photos": [...], "uncertain_rule": ..., **extra} (e.g. model name, detector)."""
    doc = {**extra, "uncertain_rule": {"top_below": UNCERTAIN_TOP, "margin_below": UNCERTAIN_MARGIN},
           "photos": [r.to_json() for r in results]}
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


def png_bytes(rgb: np.ndarray) -> bytes:
    """An RGB uint8 image encoded as PNG, in memory."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("could not encode PNG")
    return buf.tobytes()
