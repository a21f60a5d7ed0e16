"""The face finders FER Lens offers: each with the title and one-line note people see, and how to build it.

Light on purpose (no torch, no OpenCV): the sidebar and the command line list detectors before any is
built; a detector's own module, and whatever it needs, is imported only when it is created.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fer_core.detection.base import FaceDetector


@dataclass(frozen=True)
class DetectorInfo:
    """A registered face finder: `factory` is "module:Class" under fer_core.detection."""

    name: str
    title: str
    note: str  # one line for the sidebar's help, in plain words
    factory: str
    tag: str = ""  # a word or two after the title in the picker, e.g. "recommended"

    @property
    def label(self) -> str:
        """The picker's text: the title, with its tag in brackets."""
        return f"{self.title} ({self.tag})" if self.tag else self.title

    def create(self, **kwargs: Any) -> FaceDetector:
        module, _, cls = self.factory.partition(":")
        return getattr(importlib.import_module(f"fer_core.detection.{module}"), cls)(**kwargs)


_ALL = (
    DetectorInfo("mtcnn", "MTCNN", "finds more faces, tilted ones too, and the eyes, nose and mouth corners that "
                 "level each face", "mtcnn:MTCNNFaceDetector", tag="recommended"),
    DetectorInfo("haar", "Haar cascade", "the older, simpler finder: upright faces only, and it may miss some",
                 "haar:HaarFaceDetector", tag="simpler"),
)
DETECTORS: dict[str, DetectorInfo] = {d.name: d for d in _ALL}

# Chosen by `fer-lens detect-bench` (2-core machine, busy with training, torch threads 1):
#   haar   72/74 faces found, 1 false, 2 missed, ~30 ms per 640x480 frame, no landmarks
#   mtcnn  74/74 faces found, 0 false, 0 missed, ~11-13 ms per 640x480 frame (CPU), 5 landmarks
# MTCNN wins on accuracy and is also the faster one at its defaults (see detection/mtcnn.py).
DEFAULT_DETECTOR = "mtcnn"


def detector_info(name: str) -> DetectorInfo:
    """The registered face finder called `name`, or a ValueError that lists the choices."""
    try:
        return DETECTORS[name]
    except KeyError:
        raise ValueError(f"unknown face detector {name!r}; choose one of {sorted(DETECTORS)}") from None


def create_detector(name: str = DEFAULT_DETECTOR, **kwargs: Any) -> FaceDetector:
    """Build a detector by registry name; kwargs go to its constructor (e.g. max_side, min_face_size)."""
    return detector_info(name).create(**kwargs)
