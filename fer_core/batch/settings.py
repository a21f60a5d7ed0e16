"""The settings of a batch, and the hash that says whether a clip's existing outputs were made with them."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from fer_core.detection.registry import DEFAULT_DETECTOR

FORMATS = ("csv", "parquet", "pyfeat", "elan", "html")  # what --formats accepts; all of them by default
FORMAT_FILES = {"csv": "timeline.csv", "parquet": "timeline.parquet", "pyfeat": "pyfeat.csv",
                "elan": "annotations.eaf", "html": "report.html"}
MINUTES_FILE = "minutes.json"  # per-minute rows for the group summary, always written
DONE_FILE = "done.json"  # written last: its presence says the clip's outputs are complete
FAILED_FILE = "failed.json"


@dataclass(frozen=True)
class BatchSettings:
    """How every clip of a batch is analysed, as the Video page does (its sampling rates, smoothing and
    uncertain rule), plus which outputs to write."""

    fps: float = 5.0
    model: str | None = None  # built-in name or path; None: the built-in default
    detector: str = DEFAULT_DETECTOR
    formats: tuple[str, ...] = FORMATS
    max_s: float | None = None  # analyse only the first max_s seconds of each clip

    def __post_init__(self) -> None:
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown or not self.formats:
            raise ValueError(f"unknown output format(s) {', '.join(unknown) or '(none)'}; choose from "
                             f"{', '.join(FORMATS)}")

    def to_json(self) -> dict:
        return dict(asdict(self), formats=list(self.formats))


@lru_cache(maxsize=8)
def _file_sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def model_identity(model: str | None) -> dict:
    """The model's name and the SHA-256 of its weights: a retrained model under the same name is another
    model."""
    from fer_core.model.checkpoint import resolve_model_path

    path = resolve_model_path(model)
    card = json.loads(path.with_suffix(".json").read_text())
    return {"name": card.get("name", path.stem), "sha256": _file_sha256(str(path))}


def settings_hash(settings: BatchSettings) -> str:
    """What makes two analyses of a clip the same: rate, length, face finder, the model's weights and FER
    Lens's version (formats are not in it: a new format only adds files)."""
    from fer_core import __version__

    key = {"fps": settings.fps, "max_s": settings.max_s, "detector": settings.detector,
           "model": model_identity(settings.model), "version": __version__}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
