"""MediaPipe's Face Mesh (Kartynnik et al. 2019): 468 3D points per face, from our own PyTorch graph.

The network (`face_landmark.tflite` from the `mediapipe` 0.10.14 wheel, Apache-2.0) is converted once by
`fer-lens convert-mediapipe` and run by `converted_net.ConvertedNet`. Around it this module reproduces
MediaPipe's face-landmark graph (modules/face_landmark/face_landmark_front_cpu.pbtxt):

* the region of interest is the detector box's centre, a square 1.5 times its longer side, turned so that
  the eyes are level (rotation from the eye landmarks, when the detector gives them);
* that square is warped to 192x192 RGB in [0, 1]; the network gives 468 (x, y, z) points in crop pixels
  and a face-presence logit;
* points go back to image pixels through the inverse warp (z scaled like x).

A crop that is not a face (or is too small, too blurred, in profile or covered) gives a low presence score:
`fit` then returns None and recognition falls back to the detector's own landmarks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from fer_core.detection.base import Detection
from fer_core.detection.net_engine import Engine, fast_network, run_engine
from fer_core.model.catalog import BUILTIN_DIR

MESH_SIZE = 192
ROI_SCALE = 1.5  # face_detection_front_detection_to_roi: the box's longer side times 1.5, square
MIN_PRESENCE = 0.5  # sigmoid of the face flag; below it the points are not trusted
MIN_FACE_PX = 12  # boxes smaller than this (in image pixels) are not worth a mesh

# Point groups of the canonical 468-point topology (mediapipe/python/solutions/face_mesh_connections.py).
# "Right"/"left" are the subject's: in an ordinary (not mirrored) photo the subject's right is image left.
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
NOSE_TIP = 1
MOUTH_RIGHT, MOUTH_LEFT = 61, 291  # the subject's right and left mouth corners


@dataclass(frozen=True)
class Mesh:
    """One face's 468 points: (468, 3) float32 x, y in image pixels, z in the same scale (smaller = nearer
    the camera), and the network's face-presence score."""

    points: np.ndarray
    presence: float

    def five_landmarks(self) -> np.ndarray:
        """Eye centres, nose tip and mouth corners in `detection.base.LANDMARK_NAMES` order (image left first)."""
        xy = self.points[:, :2]
        return np.stack([xy[list(RIGHT_EYE)].mean(0), xy[list(LEFT_EYE)].mean(0), xy[NOSE_TIP],
                         xy[MOUTH_RIGHT], xy[MOUTH_LEFT]]).astype(np.float32)


@lru_cache(maxsize=None)
def _network() -> Engine:
    """One read-only network, shared by every recognizer and thread."""
    return fast_network(BUILTIN_DIR / "mediapipe" / "face_landmark")


def available() -> bool:
    """Whether the converted Face Mesh weights are installed."""
    return (BUILTIN_DIR / "mediapipe" / "face_landmark.safetensors").exists()


def roi_matrix(detection: Detection, size: int = MESH_SIZE) -> np.ndarray:
    """2x3 image -> crop transform of MediaPipe's face ROI for one detection."""
    x, y, w, h = detection.box
    side = max(w, h) * ROI_SCALE
    angle = 0.0
    if detection.landmarks is not None:
        (lx, ly), (rx, ry) = detection.landmarks[0], detection.landmarks[1]
        angle = math.atan2(ry - ly, rx - lx)  # image-left eye to image-right eye; 0 when level
    cx, cy = x + w / 2, y + h / 2
    scale = size / side
    cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
    # rotate by -angle around the box centre, scale, and put the centre in the middle of the crop
    return np.array([[cos, sin, size / 2 - cos * cx - sin * cy],
                     [-sin, cos, size / 2 + sin * cx - cos * cy]], dtype=np.float64)


def _warp(rgb: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """The ROI warped to 192x192. A big face is first shrunk with area averaging (warpAffine alone would
    alias: on a 6000 px photo the mesh then saw texture in a background patch and called it a face)."""
    scale = float(np.hypot(matrix[0, 0], matrix[0, 1]))
    if scale >= 0.5:
        return cv2.warpAffine(rgb, matrix, (MESH_SIZE, MESH_SIZE), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT)
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0], [MESH_SIZE, 0], [0, MESH_SIZE], [MESH_SIZE, MESH_SIZE]], np.float64)
    xy = corners @ inverse[:, :2].T + inverse[:, 2]
    h, w = rgb.shape[:2]
    x0, y0 = (int(max(0, np.floor(v))) for v in xy.min(0))
    x1, y1 = int(min(w, np.ceil(xy[:, 0].max()))), int(min(h, np.ceil(xy[:, 1].max())))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return np.zeros((MESH_SIZE, MESH_SIZE, 3), np.uint8)
    shrink = 2 * scale  # the region at twice the crop's resolution, then the warp halves it
    region = cv2.resize(rgb[y0:y1, x0:x1], (max(1, round((x1 - x0) * shrink)), max(1, round((y1 - y0) * shrink))),
                        interpolation=cv2.INTER_AREA)
    sx, sy = region.shape[1] / (x1 - x0), region.shape[0] / (y1 - y0)
    to_region = np.array([[1 / sx, 0, x0], [0, 1 / sy, y0]])  # region pixel -> image pixel
    local = matrix[:, :2] @ to_region[:, :2]
    offset = matrix[:, :2] @ to_region[:, 2] + matrix[:, 2]
    return cv2.warpAffine(region, np.hstack([local, offset[:, None]]), (MESH_SIZE, MESH_SIZE),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def crops(rgb: np.ndarray, detections: list[Detection]) -> tuple[np.ndarray, list[np.ndarray]]:
    """(N, 192, 192, 3) uint8 ROI crops and their image -> crop matrices."""
    matrices = [roi_matrix(d) for d in detections]
    images = [_warp(rgb, m) for m in matrices]
    return np.stack(images) if images else np.zeros((0, MESH_SIZE, MESH_SIZE, 3), np.uint8), matrices


def run_network(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 192, 192, 3) uint8 crops -> (N, 468, 3) points in crop pixels and (N,) presence scores."""
    x = batch.transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255.0)
    outputs = ConvertedNetOutputs.of(run_engine(_network(), x))
    return outputs.points, 1.0 / (1.0 + np.exp(-outputs.presence))


@dataclass(frozen=True)
class ConvertedNetOutputs:
    """The mesh network's outputs told apart by size: 1404 = 468 x 3 coordinates, 1 = the presence logit."""

    points: np.ndarray
    presence: np.ndarray

    @classmethod
    def of(cls, outputs: tuple[np.ndarray, ...]) -> "ConvertedNetOutputs":
        points = next(o for o in outputs if o[0].size == 468 * 3)
        presence = next(o for o in outputs if o[0].size == 1)
        return cls(points.reshape(len(points), 468, 3), presence.reshape(-1))


def fit(rgb: np.ndarray, detections: list[Detection]) -> list[Mesh | None]:
    """A mesh for each detection (one batch), or None where the network does not see a face there."""
    usable = [i for i, d in enumerate(detections) if min(d.box[2], d.box[3]) >= MIN_FACE_PX]
    out: list[Mesh | None] = [None] * len(detections)
    if not usable:
        return out
    batch, matrices = crops(rgb, [detections[i] for i in usable])
    points, presence = run_network(batch)
    for i, pts, score, matrix in zip(usable, points, presence, matrices):
        if score < MIN_PRESENCE or not np.isfinite(pts).all():
            continue
        inverse = cv2.invertAffineTransform(matrix)
        xy = pts[:, :2] @ inverse[:, :2].T + inverse[:, 2]
        z = pts[:, 2:3] * float(np.hypot(inverse[0, 0], inverse[0, 1]))
        out[i] = Mesh(np.concatenate([xy, z], axis=1).astype(np.float32), float(score))
    return out


CONFIRM_BELOW = 0.75  # detections scored below this must also get a confident mesh to count as faces
CONFIRM_PRESENCE = 0.8  # ... this confident: 99.5% of muxspace/valid's faces score above 0.83


def confirmed(rgb: np.ndarray, detections: list[Detection], below: float = CONFIRM_BELOW) -> list[Detection]:
    """The detections, less the weak ones (score < `below`) on which the mesh sees no face.

    Why: BlazeFace's short-range net gives a few background patches 0.6-0.7 (a building behind the woman of
    faceapi_happy.jpg: 0.68; the mesh gives it 0.5 or less at any photo size), while real faces it scores that
    low still get a confident mesh (on muxspace/valid 98% of its faces have a presence above 0.98). Strong
    detections skip the check, so it costs nothing in the common case."""
    weak = [d for d in detections if d.score < below and min(d.box[2], d.box[3]) >= MIN_FACE_PX]
    if not weak:
        return detections
    _, presence = run_network(crops(rgb, weak)[0])
    rejected = {id(d) for d, p in zip(weak, presence) if p < CONFIRM_PRESENCE}
    return [d for d in detections if id(d) not in rejected]


class MeshConfirmed:
    """A detector whose weak detections must be confirmed by the Face Mesh (`confirmed`), as recognition does;
    for benchmarks that compare what each face finder gives the app."""

    def __init__(self, detector) -> None:
        self.detector = detector
        self.name = f"{detector.name}+mesh"

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        found = self.detector.detect(rgb)
        return confirmed(rgb, found) if found else found
