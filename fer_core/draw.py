"""Drawing results on images (boxes and labels coloured by class), shared by the app and the CLI."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from fer_core.labels import COLORS_RGB

DISPLAY_WIDTH = 640  # screen pixels a photo is assumed to be shown at, when the caller does not say
LABEL_PX = 15  # height of a label's letters on screen: readable on a projector from the back of a room
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_FONT_PX = 22  # letter height of _FONT at scale 1


def label_font(image_width: int, display_width: int | None = None) -> tuple[float, int]:
    """(font scale, line thickness) that make labels LABEL_PX tall when an image `image_width` pixels wide is
    shown `display_width` screen pixels wide: the letters grow with the photo's reduction, not its size."""
    per_screen_px = image_width / max(display_width or DISPLAY_WIDTH, 1)
    return max(0.4, LABEL_PX * per_screen_px / _FONT_PX), max(1, int(round(1.4 * per_screen_px)))


@dataclass(frozen=True)
class Label:
    """One face's label as drawn: its text and where it sits, (x0, y0, x1, y1) in image pixels."""

    text: str
    rect: tuple[int, int, int, int]
    baseline: int
    pad: int


def label_layout(shape: tuple[int, ...], faces: Sequence, display_width: int | None = None) -> list[Label]:
    """Where `annotate` puts each face's label (see there), in the order of `faces`."""
    font_scale, text_thickness = label_font(shape[1], display_width)
    boxes = [tuple(int(round(v)) for v in face.box) for face in faces]
    placed: list[tuple[int, int, int, int]] = []
    labels = []
    pad = max(2, text_thickness * 2)
    for i, face in enumerate(faces):
        others = [(bx, by, bx + bw, by + bh) for k, (bx, by, bw, bh) in enumerate(boxes) if k != i]
        texts = [f"{i + 1}: {face.label} {face.confidence:.0%}", f"{i + 1}: {face.label}", f"{i + 1}"]
        sizes = [cv2.getTextSize(t, _FONT, font_scale, text_thickness) for t in texts]
        found = None
        for text, ((tw, th), base) in zip(texts, sizes):
            rect = _label_rect(shape, others + placed, boxes[i], tw + 2 * pad, th + base + 2 * pad)
            if rect is not None:
                found = Label(text, rect, base, pad)
                break
        if found is None:  # nowhere clear: the number where it covers least
            (tw, th), base = sizes[-1]
            found = Label(texts[-1], _least_covering(shape, others + placed, boxes[i], tw + 2 * pad,
                                                    th + base + 2 * pad), base, pad)
        placed.append(found.rect)
        labels.append(found)
    return labels


def annotate(rgb: np.ndarray, faces: Sequence, thickness: int | None = None,
             display_width: int | None = None) -> np.ndarray:
    """A copy of the image with one labelled box per face (`faces` are FaceResult-like objects, numbered in
    the order given: the Recognizer gives reading order).

    The letters are sized for the width the image is shown at (`display_width` screen pixels, see
    `label_font`). Each label goes above its box, below it, or inside its top or bottom edge: the first spot
    that stays inside the image and clear of the other faces and of the labels already drawn. Where no spot
    is clear (a crowded photo), the label drops its score, then its expression, down to the face's number,
    which takes the spot that covers the least if none is clear either."""
    out = rgb.copy()
    font_scale, text_thickness = label_font(out.shape[1], display_width)
    thickness = thickness or max(2, 2 * text_thickness)
    for face in faces:
        x, y, w, h = (int(round(v)) for v in face.box)
        cv2.rectangle(out, (x, y), (x + w, y + h), COLORS_RGB.get(face.label, (255, 255, 255)), thickness)
    for face, label in zip(faces, label_layout(out.shape, faces, display_width)):
        x0, y0, x1, y1 = label.rect
        cv2.rectangle(out, (x0, y0), (x1, y1), COLORS_RGB.get(face.label, (255, 255, 255)), -1)
        cv2.putText(out, label.text, (x0 + label.pad, y1 - label.baseline - label.pad), _FONT, font_scale,
                    (0, 0, 0), text_thickness, cv2.LINE_AA)
    return out


def _spots(shape: tuple[int, ...], box: tuple[int, int, int, int], lw: int, lh: int
           ) -> list[tuple[int, int, int, int]]:
    """Candidate (x0, y0, x1, y1) spots for a lw x lh label of `box`, in order of preference, inside the image:
    above, below, inside the top edge, inside the bottom edge; each left-aligned, right-aligned, centred."""
    H, W = shape[:2]
    x, y, w, h = box
    lefts = [min(max(0, v), max(0, W - lw)) for v in (x, x + w - lw, x + (w - lw) // 2)]
    tops = [y - lh - 1, y + h + 1, y + 1, y + h - lh - 1]
    return [(x0, top, x0 + lw, top + lh) for top in tops for x0 in dict.fromkeys(lefts)
            if top >= 0 and top + lh <= H]


def _overlap(r: tuple[int, int, int, int], others: list[tuple[int, int, int, int]]) -> int:
    return sum(max(0, min(r[2], o[2]) - max(r[0], o[0])) * max(0, min(r[3], o[3]) - max(r[1], o[1]))
               for o in others)


def _label_rect(shape: tuple[int, ...], taken: list[tuple[int, int, int, int]], box: tuple[int, int, int, int],
                lw: int, lh: int) -> tuple[int, int, int, int] | None:
    """The first candidate spot clear of every rectangle in `taken` (other faces, labels drawn), or None."""
    return next((r for r in _spots(shape, box, lw, lh) if not _overlap(r, taken)), None)


def _least_covering(shape: tuple[int, ...], taken: list[tuple[int, int, int, int]],
                    box: tuple[int, int, int, int], lw: int, lh: int) -> tuple[int, int, int, int]:
    spots = _spots(shape, box, lw, lh)
    if spots:
        return min(spots, key=lambda r: _overlap(r, taken))
    H, W = shape[:2]  # a label larger than the image itself: its top-left corner
    return 0, 0, min(lw, W), min(lh, H)


def draw_meshes(rgb: np.ndarray, faces: Sequence) -> np.ndarray:
    """A copy with each face's 468 Face Mesh points as small dots in its expression's colour (faces without a
    mesh are left as they are). Dots, not the mesh's triangles: they show what was measured, and stay light."""
    out = rgb.copy()
    radius = max(1, int(round(max(out.shape[:2]) / 800)))
    for face in faces:
        mesh = getattr(face, "mesh", None)
        if mesh is None:
            continue
        color = COLORS_RGB.get(face.label, (255, 255, 255))
        for x, y in np.round(mesh[:, :2]).astype(int):
            cv2.circle(out, (int(x), int(y)), radius, color, -1, cv2.LINE_AA)
    return out


def blur_faces(rgb: np.ndarray, boxes: list[tuple[float, float, float, float]], margin: float = 0.25) -> np.ndarray:
    """Pixelate each box (grown by `margin` on every side) so strongly that the face cannot be recognised."""
    out = rgb.copy()
    H, W = out.shape[:2]
    for x, y, w, h in boxes:
        x0, y0 = max(0, int(x - margin * w)), max(0, int(y - margin * h))
        x1, y1 = min(W, int(x + w * (1 + margin))), min(H, int(y + h * (1 + margin)))
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        tiny = cv2.resize(out[y0:y1, x0:x1], (6, 6), interpolation=cv2.INTER_AREA)
        out[y0:y1, x0:x1] = cv2.resize(tiny, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
    return out
