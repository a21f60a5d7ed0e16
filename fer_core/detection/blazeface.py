"""BlazeFace (Bazarevsky et al. 2019), MediaPipe's face detector, converted to our own PyTorch graph.

The networks come from the `mediapipe` 0.10.14 wheel (Apache-2.0), converted once by
`fer-lens convert-mediapipe` into `fer_core/weights/mediapipe/` and run by `converted_net.ConvertedNet`; this
module reproduces MediaPipe's pipeline around them (modules/face_detection/*.pbtxt):

* the frame is letterboxed (aspect kept, black bars) to the network's square input, RGB scaled to [-1, 1];
* SSD anchors as MediaPipe's SsdAnchorsCalculator makes them (short range: 128 px, strides 8/16/16/16,
  896 anchors; full range: 192 px, stride 4, 2304 anchors), fixed anchor size;
* boxes and 6 keypoints decoded against the anchors (x, y, w, h order, scale = input size), scores through a
  sigmoid of the clipped logit, then MediaPipe's weighted non-maximum suppression (IoU 0.3).

Keypoints: the subject's right eye, left eye, nose tip, mouth centre, right and left ear tragion. The
`Detection` interface asks for eyes, nose and mouth corners (LANDMARK_NAMES, "left" = image left); BlazeFace
has no mouth corners, so they are placed on the mouth centre along the eye line at the spacing of the
alignment template. A similarity fit to those five points then uses exactly what BlazeFace measured.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from fer_core.detection.base import Detection, detector_input
from fer_core.detection.boxes import box_iou
from fer_core.detection.net_engine import Engine, fast_network, run_engine
from fer_core.model.catalog import BUILTIN_DIR

# Mouth-corner spacing over eye spacing in the alignment template (detection/align.FER_TEMPLATE: 0.304 / 0.368).
MOUTH_TO_EYE_SPACING = 0.826


@dataclass(frozen=True)
class BlazeFaceVariant:
    """One of MediaPipe's two face detectors and the settings of its graph."""

    weights: str
    input_size: int
    strides: tuple[int, ...]
    interpolated_scale_aspect_ratio: float
    min_score: float


VARIANTS = {
    # face_detection_short_range.pbtxt: faces within ~2 m of a webcam or phone camera
    "short": BlazeFaceVariant("face_detection_short_range", 128, (8, 16, 16, 16), 1.0, 0.5),
    # face_detection_full_range.pbtxt: small and distant faces (group photos, classrooms)
    "full": BlazeFaceVariant("face_detection_full_range_sparse", 192, (4,), 0.0, 0.6),
}


def ssd_anchors(input_size: int, strides: tuple[int, ...], interpolated_scale_aspect_ratio: float,
                offset: float = 0.5) -> np.ndarray:
    """Anchor centres (A, 2) in [0, 1], in MediaPipe's order. With a fixed anchor size (width = height = 1, as
    both face graphs use) the calculator's min/max scales only set sizes, so they do not appear here."""
    layers = len(strides)
    centres, layer = [], 0
    while layer < layers:
        per_cell, last = 0, layer
        while last < layers and strides[last] == strides[layer]:
            per_cell += 1 + (interpolated_scale_aspect_ratio > 0)  # aspect ratio 1.0, then the interpolated one
            last += 1
        side = math.ceil(input_size / strides[layer])
        ys, xs = np.mgrid[0:side, 0:side]
        grid = np.stack([(xs + offset) / side, (ys + offset) / side], axis=-1).reshape(-1, 1, 2)
        centres.append(np.repeat(grid, per_cell, axis=1).reshape(-1, 2))
        layer = last
    return np.concatenate(centres).astype(np.float32)


@lru_cache(maxsize=None)
def _network(weights: str) -> Engine:
    """One read-only network per variant, shared by every detector and thread."""
    return fast_network(BUILTIN_DIR / "mediapipe" / weights)


def letterbox_square(rgb: np.ndarray, size: int) -> tuple[np.ndarray, float, float, float]:
    """`rgb` fitted into a size x size square with black bars; returns it with (scale, pad_x, pad_y) such
    that input pixel = (square pixel - pad) / scale."""
    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    resized = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    square = np.zeros((size, size, 3), np.uint8)
    pad_x, pad_y = (size - new_w) // 2, (size - new_h) // 2
    square[pad_y:pad_y + new_h, pad_x:pad_x + new_w] = resized
    return square, scale, pad_x, pad_y


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, points: np.ndarray,
                 iou: float = 0.3) -> list[tuple[np.ndarray, float, np.ndarray]]:
    """MediaPipe's WEIGHTED suppression: each kept face averages the boxes and keypoints of the candidates it
    overlaps, weighted by their scores, and keeps its own (best) score."""
    order = np.argsort(-scores, kind="stable")
    boxes, scores, points = boxes[order], scores[order], points[order]
    kept, alive = [], np.ones(len(boxes), dtype=bool)
    overlaps = box_iou(boxes, boxes)
    for i in range(len(boxes)):
        if not alive[i]:
            continue
        group = alive & (overlaps[i] > iou)
        group[i] = True
        weights = scores[group] / scores[group].sum()
        kept.append(((boxes[group] * weights[:, None]).sum(0), float(scores[i]),
                     (points[group] * weights[:, None, None]).sum(0)))
        alive &= ~group
    return kept


def five_landmarks(keypoints: np.ndarray) -> np.ndarray:
    """BlazeFace's eyes, nose and mouth centre -> (5, 2) in LANDMARK_NAMES order (image-left eye first)."""
    eye_a, eye_b, nose, mouth = keypoints[0], keypoints[1], keypoints[2], keypoints[3]
    left, right = (eye_a, eye_b) if eye_a[0] <= eye_b[0] else (eye_b, eye_a)
    half = (right - left) * MOUTH_TO_EYE_SPACING / 2
    return np.stack([left, right, nose, mouth - half, mouth + half]).astype(np.float32)


class _Range:
    """One of the two networks with its anchors and score threshold."""

    def __init__(self, variant: BlazeFaceVariant, min_score: float | None) -> None:
        self.variant = variant
        self.min_score = variant.min_score if min_score is None else min_score
        self.net = _network(variant.weights)
        self.anchors = ssd_anchors(variant.input_size, variant.strides, variant.interpolated_scale_aspect_ratio)

    def raw(self, square: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The network on one letterboxed square: (A, 16) regressors and (A,) logits."""
        x = square.transpose(2, 0, 1)[None].astype(np.float32) / np.float32(127.5) - np.float32(1.0)
        outputs = run_engine(self.net, x)
        regressors = next(o for o in outputs if o.shape[-1] == 16)
        logits = next(o for o in outputs if o.shape[-1] == 1)
        return regressors.reshape(-1, 16), logits.reshape(-1)

    def candidates(self, square: np.ndarray, scale: float, pad_x: float, pad_y: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scored boxes (K, 4: x1, y1, x2, y2), scores (K,) and keypoints (K, 6, 2), in input pixels, from the
        frame letterboxed to this net's size (`letterbox_square`: input pixel = (square pixel - pad) / scale)."""
        size = self.variant.input_size
        regressors, logits = self.raw(square)
        scores = (1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -100.0, 100.0)))).astype(np.float32)
        keep = scores >= self.min_score
        reg, anchors = regressors[keep], self.anchors[keep]
        centre = reg[:, :2] / size + anchors
        half = reg[:, 2:4] / size / 2
        pad = np.array([pad_x, pad_y], dtype=reg.dtype)
        boxes = ((np.concatenate([centre - half, centre + half], axis=1) * size) - np.tile(pad, 2)) / scale
        points = ((reg[:, 4:16].reshape(-1, 6, 2) / size + anchors[:, None]) * size - pad) / scale
        return boxes, scores[keep], points


class BlazeFaceFaceDetector:
    """MediaPipe's BlazeFace: the short-range net (faces near the camera), the full-range one (small and distant
    faces), or both, their candidates merged by one weighted suppression. Both are needed for photos in general:
    on muxspace/valid (press photos whose face fills most of the frame; `evaluate --detect`) the full-range net
    finds a face in 70.6% of photos and the short-range one in 97.4%; on the group photos only the full range
    finds the ~6% faces. The graphs are shared read-only, so instances are thread-safe."""

    def __init__(self, variant: str = "both", min_score: float | None = None, max_faces: int = 64) -> None:
        ranges = ("short", "full") if variant == "both" else (variant,)
        if any(r not in VARIANTS for r in ranges):
            raise ValueError(f"unknown BlazeFace variant {variant!r}; choose one of {sorted(VARIANTS) + ['both']}")
        self.name = "blazeface" if variant == "both" else f"blazeface-{variant}"
        self.max_faces = max_faces
        self.ranges = [_Range(VARIANTS[r], min_score) for r in ranges]

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Faces in `rgb` (HxWx3 uint8), best first, with 5 landmarks; [] when none."""
        rgb = detector_input(rgb)
        if rgb is None:
            return []
        found = []
        largest = max(r.variant.input_size for r in self.ranges)
        square, scale, pad_x, pad_y = letterbox_square(rgb, largest)  # one resize of the frame for both nets
        for r in self.ranges:
            size = r.variant.input_size
            small = square if size == largest else cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA)
            k = size / largest
            found.append(r.candidates(small, scale * k, pad_x * k, pad_y * k))
        boxes, scores, points = (np.concatenate(parts) for parts in zip(*found))
        if len(scores) == 0:
            return []
        h, w = rgb.shape[:2]
        out = []
        for box, score, keypoints in weighted_nms(boxes, scores, points)[: self.max_faces]:
            x1, x2 = (float(v) for v in np.clip(box[[0, 2]], 0, w - 1))
            y1, y2 = (float(v) for v in np.clip(box[[1, 3]], 0, h - 1))
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue
            out.append(Detection(box=(x1, y1, x2 - x1, y2 - y1), score=score, landmarks=five_landmarks(keypoints)))
        return out
