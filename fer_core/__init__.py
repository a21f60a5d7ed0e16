"""FER Lens: facial-expression recognition with explanations, as a library.

    from fer_core import Recognizer
    rec = Recognizer()                      # built-in model and face finder; share one across threads
    for face in rec.analyze("photo.jpg"):
        print(face.box, face.label, face.probs)

Public names are imported on first use (PEP 562), so `import fer_core` stays instant and a name only costs
what it needs: `Recognizer` loads torch but not scikit-learn or Captum, `explain` loads Captum.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.22.0"

_PUBLIC = {
    "Recognizer": "fer_core.recognizer", "FaceResult": "fer_core.recognizer",
    "load_model": "fer_core.model.checkpoint", "LoadedModel": "fer_core.model.checkpoint",
    "ModelSpec": "fer_core.model.spec",
    "create_detector": "fer_core.detection.registry", "DETECTORS": "fer_core.detection.registry",
    "Detection": "fer_core.detection.base",
    "explain": "fer_core.explain.attribution", "Explanation": "fer_core.explain.attribution",
    "METHODS": "fer_core.explain.registry",
    "analyze_photo": "fer_core.report", "analyze_video": "fer_core.video.analysis",
    "LiveProcessor": "fer_core.video.live",
    "load_image": "fer_core.imageio", "ImageLoadError": "fer_core.imageio",
    "CLASSES": "fer_core.labels",
}
__all__ = sorted(_PUBLIC)

if TYPE_CHECKING:
    from fer_core.detection.base import Detection
    from fer_core.detection.registry import DETECTORS, create_detector
    from fer_core.explain.attribution import Explanation, explain
    from fer_core.explain.registry import METHODS
    from fer_core.imageio import ImageLoadError, load_image
    from fer_core.labels import CLASSES
    from fer_core.model.checkpoint import LoadedModel, load_model
    from fer_core.model.spec import ModelSpec
    from fer_core.recognizer import FaceResult, Recognizer
    from fer_core.report import analyze_photo
    from fer_core.video.analysis import analyze_video
    from fer_core.video.live import LiveProcessor


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'fer_core' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
