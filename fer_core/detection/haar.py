"""OpenCV's frontal-face Haar cascade: no model download, a few milliseconds per frame, but no landmarks.

Landmarks are None on purpose: the eye cascade gives at best two eye boxes (often none, or eyebrows and
glasses rims), and nose/mouth points would have to be invented, so aligning on them would be worse than
the recogniser's box-only fallback.
"""
from __future__ import annotations

import math
import threading

import cv2
import numpy as np

from fer_core.detection.base import Detection, detector_input, downscale

CASCADE_FILE = "haarcascade_frontalface_default.xml"

# Score proxy: detectMultiScale3 reports, per face, the summed weak-classifier votes of the cascade's last
# stage ("level weight"; about 1-9 on real faces here, larger = more face-like). A logistic squash maps it
# to [0, 1] so it can be ranked and thresholded like a probability; it is NOT calibrated.
WEIGHT_MIDPOINT = 2.0  # level weight that maps to score 0.5
WEIGHT_SCALE = 1.5  # level-weight units per e-fold of the odds


def level_weight_to_score(weight: float) -> float:
    """Monotone map of a Haar level weight onto [0, 1] (see the module constants for why)."""
    z = (weight - WEIGHT_MIDPOINT) / WEIGHT_SCALE
    return 1.0 / (1.0 + math.exp(-z)) if z > -60 else 0.0


class HaarFaceDetector:
    """Viola-Jones frontal faces on an equalised grey working copy of at most `max_side` pixels.

    `min_face_size` is in working-copy pixels. cv2.CascadeClassifier is not documented as thread-safe, so
    every thread gets its own classifier (loading one takes a few ms, once per thread).
    """

    name = "haar"

    def __init__(self, max_side: int = 320, scale_factor: float = 1.1, min_neighbors: int = 4,
                 min_face_size: int = 20) -> None:
        self.max_side = max_side
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_face_size = min_face_size
        self._cascade_path = cv2.data.haarcascades + CASCADE_FILE
        self._local = threading.local()
        if self._classifier().empty():  # fail at construction, not at the first frame
            raise RuntimeError(f"could not load the Haar cascade {self._cascade_path}")

    def _classifier(self) -> cv2.CascadeClassifier:
        classifier = getattr(self._local, "classifier", None)
        if classifier is None:
            classifier = cv2.CascadeClassifier(self._cascade_path)
            self._local.classifier = classifier
        return classifier

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Faces in `rgb` (HxWx3 uint8), best first; [] when none or the image is smaller than a face."""
        rgb = detector_input(rgb)
        if rgb is None:
            return []
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        work, factor = downscale(grey, self.max_side)
        if min(work.shape[:2]) < self.min_face_size:
            return []
        work = cv2.equalizeHist(work)  # Haar features are contrast-sensitive; this steadies dim/flat frames
        rects, _levels, weights = self._classifier().detectMultiScale3(
            work, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(self.min_face_size, self.min_face_size), outputRejectLevels=True)
        if len(rects) == 0:
            return []
        found = [Detection(box=tuple(float(v) * factor for v in rect),
                           score=level_weight_to_score(float(weight)))
                 for rect, weight in zip(np.asarray(rects), np.ravel(weights))]
        return sorted(found, key=lambda d: d.score, reverse=True)
