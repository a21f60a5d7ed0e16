"""Faces are numbered in reading order everywhere (rows from the top, left to right), and the labels drawn on a
photo stay readable: sized for the width the photo is shown at, clear of the other faces and of each other."""
from __future__ import annotations

import numpy as np
import pytest

from fer_core.draw import LABEL_PX, annotate, label_font, label_layout
from fer_core.reading_order import ROW_TOLERANCE, reading_order, reading_rows
from fer_core.recognizer import Recognizer
from fer_core.report import result_rows

GROUP_PHOTOS = ["faceapi_bbt1.jpg", "faceapi_bbt2.jpg"]


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    import torch

    torch.set_num_threads(1)
    return Recognizer()


def test_rows_first_then_left_to_right() -> None:
    # two rows; in the upper one the heads sit at slightly different heights, the lower one starts further left
    boxes = [(300, 14, 80, 80), (20, 200, 80, 80), (10, 0, 80, 80), (150, 30, 80, 80), (160, 210, 80, 80)]
    assert reading_rows(boxes) == [[2, 3, 0], [1, 4]]
    assert reading_order(boxes) == [2, 3, 0, 1, 4]
    assert reading_order([]) == []


def test_a_face_more_than_half_a_face_lower_starts_a_new_row() -> None:
    h = 100
    near = [(200, 0, h, h), (0, 0.45 * h, h, h)]
    far = [(200, 0, h, h), (0, 0.55 * h, h, h)]
    assert reading_rows(near) == [[1, 0]], "within half a face height: one row, read left to right"
    assert reading_rows(far) == [[0], [1]], "further down: a row of its own, read after"
    assert ROW_TOLERANCE == 0.5


def _in_reading_order(boxes: list[tuple[float, float, float, float]]) -> bool:
    return reading_order(boxes) == list(range(len(boxes)))


@pytest.mark.parametrize("name", GROUP_PHOTOS)
def test_group_photo_faces_come_back_in_reading_order(recognizer: Recognizer, media_photo, name: str) -> None:
    rgb = media_photo(name)
    faces = recognizer.analyze(rgb)
    assert len(faces) >= 3, f"{name} is a group photo"
    boxes = [f.box for f in faces]
    assert _in_reading_order(boxes), [tuple(round(v) for v in b) for b in boxes]
    for row in reading_rows(boxes):  # within a row, left to right
        centres = [boxes[i][0] + boxes[i][2] / 2 for i in row]
        assert centres == sorted(centres)
    # the same faces the detector found (it gives them best first): only the order is the recognizer's
    raw = [d.box for d in recognizer.detect(rgb)]
    assert sorted(map(tuple, raw)) == sorted(map(tuple, boxes))
    # the table and the downloads number them the same way
    from fer_core.report import PhotoResult

    rows = result_rows([PhotoResult(name, "x", rgb, faces)])
    assert [r["face"] for r in rows] == list(range(1, len(faces) + 1))
    assert [(r["x"], r["y"]) for r in rows] == [(round(b[0]), round(b[1])) for b in boxes]


def _overlap(a, b) -> int:
    return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))


@pytest.mark.parametrize("name", GROUP_PHOTOS)
@pytest.mark.parametrize("display_width", [360, 420, 640])
def test_labels_are_clear_of_other_faces_and_of_each_other(recognizer: Recognizer, media_photo, name: str,
                                                           display_width: int) -> None:
    rgb = media_photo(name)
    faces = recognizer.analyze(rgb)
    labels = label_layout(rgb.shape, faces, display_width)
    assert len(labels) == len(faces)
    boxes = [tuple(int(round(v)) for v in f.box) for f in faces]
    rects = [(x, y, x + w, y + h) for x, y, w, h in boxes]
    H, W = rgb.shape[:2]
    for i, label in enumerate(labels):
        assert label.text.startswith(f"{i + 1}"), "labels carry the reading-order number"
        x0, y0, x1, y1 = label.rect
        assert 0 <= x0 < x1 <= W and 0 <= y0 < y1 <= H, "inside the photo"
        for k, other in enumerate(rects):
            if k != i:
                assert _overlap(label.rect, other) == 0, f"label {i + 1} covers face {k + 1}"
        for k, other in enumerate(labels[:i]):
            assert _overlap(label.rect, other.rect) == 0, f"label {i + 1} covers label {k + 1}"
    assert sum(label.text.endswith("%") for label in labels) >= 1, "at least one label keeps its score"
    drawn = annotate(rgb, faces, display_width=display_width)
    assert drawn.shape == rgb.shape and not np.array_equal(drawn, rgb)


@pytest.mark.parametrize("image_width", [640, 1366, 4000])
def test_label_letters_have_the_same_height_on_screen_whatever_the_photo_size(image_width: int) -> None:
    import cv2

    for display_width in (360, 420, 1280):
        scale, thickness = label_font(image_width, display_width)
        (_, th), _ = cv2.getTextSize("Face", cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        on_screen = th * display_width / image_width
        if scale > 0.4:  # above the floor for tiny displays of tiny photos
            assert LABEL_PX * 0.8 <= on_screen <= LABEL_PX * 1.25, (image_width, display_width, on_screen)
