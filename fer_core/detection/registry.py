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
    options: tuple[tuple[str, Any], ...] = ()  # constructor arguments that make this entry
    live: str = ""  # the entry a live webcam stream uses instead, if any (faces there are near the camera)

    @property
    def stream_name(self) -> str:
        """The detector the Webcam page's stream runs when this one is chosen."""
        return self.live or self.name

    @property
    def label(self) -> str:
        """The picker's text: the title, with its tag in brackets."""
        return f"{self.title} ({self.tag})" if self.tag else self.title

    def create(self, **kwargs: Any) -> FaceDetector:
        module, _, cls = self.factory.partition(":")
        return getattr(importlib.import_module(f"fer_core.detection.{module}"), cls)(**{**dict(self.options),
                                                                                         **kwargs})


_ALL = (
    DetectorInfo("blazeface", "BlazeFace", "MediaPipe's face finder, close-ups and small, distant faces alike "
                 "(portraits, group photos, classrooms)", "blazeface:BlazeFaceFaceDetector", tag="recommended",
                 options=(("variant", "both"),), live="blazeface-short"),
    DetectorInfo("mtcnn", "MTCNN", "finds as many faces, tilted ones too, a little more slowly",
                 "mtcnn:MTCNNFaceDetector"),
    DetectorInfo("blazeface-short", "BlazeFace close-up", "BlazeFace's quickest net alone, for faces near the "
                 "camera only (webcams, portraits): it misses small faces", "blazeface:BlazeFaceFaceDetector",
                 tag="fastest", options=(("variant", "short"),)),
    DetectorInfo("blazeface-full", "BlazeFace far", "BlazeFace's net for small and distant faces alone: it "
                 "misses faces that fill the frame", "blazeface:BlazeFaceFaceDetector",
                 options=(("variant", "full"),)),
    DetectorInfo("haar", "Haar cascade", "the older, simpler finder: upright faces only, and it may miss some",
                 "haar:HaarFaceDetector", tag="simpler"),
)
DETECTORS: dict[str, DetectorInfo] = {d.name: d for d in _ALL}

# Chosen by `fer-lens detect-bench` (9 photos with 14 faces, 60 video frames; 2 cores, torch threads 2,
# 2026-12-01; ms per 640x480 frame, the whole pipeline; "+mesh": weak detections confirmed by the Face Mesh):
#   blazeface+mesh   74/74 faces found, 0 false, 0 missed,  8.1 ms (both nets, ONNX Runtime twins of our graphs)
#   mtcnn            74/74 faces found, 0 false, 0 missed,  8.8 ms
#   blazeface-full   74/74 faces found, 0 false, 0 missed,  5.0 ms, but on muxspace/valid press photos (faces
#                    filling the frame; `evaluate --detect`) it finds a face in 70.6% (short range 97.4%, MTCNN 98.1%)
#   blazeface-short  69/74 faces found, 1 false, 5 missed,  2.1 ms (misses the group photos' small faces)
#   haar             72/74 faces found, 1 false, 2 missed, 14.9 ms, no landmarks
# Both BlazeFace nets together find every face MTCNN finds, a little faster; their keypoints only start the
# Face Mesh, which then levels and frames each face. A webcam's faces are near the camera, so its stream runs
# the short-range net alone (MediaPipe's own choice for selfie cameras): 2.2 ms instead of 7.5 ms a frame.
DEFAULT_DETECTOR = "blazeface"


def detector_info(name: str) -> DetectorInfo:
    """The registered face finder called `name`, or a ValueError that lists the choices."""
    try:
        return DETECTORS[name]
    except KeyError:
        raise ValueError(f"unknown face detector {name!r}; choose one of {sorted(DETECTORS)}") from None


def create_detector(name: str = DEFAULT_DETECTOR, **kwargs: Any) -> FaceDetector:
    """Build a detector by registry name; kwargs go to its constructor (e.g. max_side, min_face_size)."""
    return detector_info(name).create(**kwargs)
