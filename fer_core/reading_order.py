"""The order faces are numbered in everywhere (the Photo page, its downloads, the labels drawn on photos):
reading order, rows from top to bottom and left to right within a row, as a class reads a group photo.

A face joins a row when its vertical centre is within `ROW_TOLERANCE` face heights of the row's centre, so
a head held a little higher or lower stays in its row. Light on purpose (no numpy, no cv2)."""
from __future__ import annotations

from typing import Sequence

ROW_TOLERANCE = 0.5  # face heights: centres closer than this (vertically) are one row

Box = Sequence[float]  # x, y, w, h


def reading_rows(boxes: Sequence[Box], tolerance: float = ROW_TOLERANCE) -> list[list[int]]:
    """Indices of `boxes` grouped into rows (top row first), each row left to right."""
    rows: list[list[int]] = []
    for i in sorted(range(len(boxes)), key=lambda k: boxes[k][1] + boxes[k][3] / 2):
        cy, h = boxes[i][1] + boxes[i][3] / 2, boxes[i][3]
        if rows:
            row = rows[-1]
            row_cy = sum(boxes[k][1] + boxes[k][3] / 2 for k in row) / len(row)
            row_h = sum(boxes[k][3] for k in row) / len(row)
            if abs(cy - row_cy) <= tolerance * (row_h + h) / 2:
                row.append(i)
                continue
        rows.append([i])
    return [sorted(row, key=lambda k: boxes[k][0] + boxes[k][2] / 2) for row in rows]


def reading_order(boxes: Sequence[Box], tolerance: float = ROW_TOLERANCE) -> list[int]:
    """Indices of `boxes` (x, y, w, h) in reading order: face 1 is `boxes[reading_order(boxes)[0]]`."""
    return [i for row in reading_rows(boxes, tolerance) for i in row]
