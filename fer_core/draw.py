"""Drawing results on images (boxes and labels coloured by class), shared by the app and the CLI."""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from fer_core.labels import COLORS_RGB


def annotate(rgb: np.ndarray, faces: Sequence, thickness: int | None = None) -> np.ndarray:
    """A copy of the image with one labelled box per face (`faces` are FaceResult-like objects).

    Labels go above their box, else below it, else inside its top edge: whichever spot first stays inside
    the image and clear of the labels already drawn, so the labels of faces side by side stay readable."""
    out = rgb.copy()
    scale = max(out.shape[:2]) / 1000
    thickness = thickness or max(2, int(round(3 * scale)))
    font_scale = max(0.5, 0.8 * scale)
    text_thickness = max(1, thickness // 2)
    placed: list[tuple[int, int, int, int]] = []
    boxes = [tuple(int(round(v)) for v in face.box) for face in faces]
    for (x, y, w, h), face in zip(boxes, faces):
        cv2.rectangle(out, (x, y), (x + w, y + h), COLORS_RGB.get(face.label, (255, 255, 255)), thickness)
    for i, ((x, y, w, h), face) in enumerate(zip(boxes, faces), 1):
        color = COLORS_RGB.get(face.label, (255, 255, 255))
        text = f"{i}: {face.label} {face.confidence:.0%}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, text_thickness)
        rect = _label_rect(out.shape, placed, x, y, w, h, tw + 4, th + base + 4)
        placed.append(rect)
        x0, y0, x1, y1 = rect
        cv2.rectangle(out, (x0, y0), (x1, y1), color, -1)
        cv2.putText(out, text, (x0 + 2, y1 - base - 2), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0),
                    text_thickness, cv2.LINE_AA)
    return out


def _label_rect(shape: tuple[int, ...], placed: list[tuple[int, int, int, int]], x: int, y: int, w: int,
                h: int, lw: int, lh: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) for a lw x lh label of the box (x, y, w, h): the first free candidate spot."""
    H, W = shape[:2]
    x0 = min(max(0, x), max(0, W - lw))
    candidates = [y - lh - 1, y + h + 1, y + 1]  # above, below, inside the top edge
    candidates += [y - lh - 1 - k * lh for k in range(1, 4)] + [y + h + 1 + k * lh for k in range(1, 4)]

    def free(r: tuple[int, int, int, int]) -> bool:
        return all(r[2] <= p[0] or r[0] >= p[2] or r[3] <= p[1] or r[1] >= p[3] for p in placed)

    fallback = None
    for top in candidates:
        r = (x0, top, x0 + lw, top + lh)
        if top < 0 or top + lh > H:
            continue
        fallback = fallback or r
        if free(r):
            return r
    top = min(max(0, y - lh - 1), max(0, H - lh))
    return fallback or (x0, top, x0 + lw, top + lh)


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
