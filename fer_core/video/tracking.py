"""Faces over time: stable anonymous track ids ("Face 1", "Face 2") and per-track smoothing of the scores.

Used by clip analysis (`video/analysis.py`) and the live webcam page alike, so it holds no global state: make one
`FaceTracker` and one `ProbabilitySmoother` per clip or stream.

Matching is one optimal assignment (Hungarian, `scipy.optimize.linear_sum_assignment`) over box overlap
(`fer_core.detection.boxes.box_iou`). When a face moves more between two samples than overlap can follow (a quick
turn of the head at 5 samples a second), a nearby box of similar size still continues the track, but only
if no overlapping pair claims it: overlap always wins over distance.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from fer_core.detection.boxes import box_iou

_NO_MATCH = 1e6  # cost of a forbidden pairing


@dataclass
class _Track:
    box: np.ndarray  # x, y, w, h of the last matched detection
    last_t: float


def _xyxy(boxes: np.ndarray) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([b[:, :2], b[:, :2] + np.maximum(b[:, 2:], 1e-6)], axis=1)


class FaceTracker:
    """Greedy/Hungarian IoU matching of detections to tracks; stable 1-based ids; tracks survive gaps up to
    max_gap_s.

    `max_shift` (in box sides) lets a box continue a track it does not overlap enough, when its centre
    moved at most that far and its size changed by less than `max_scale_change` times; 0 turns this off.
    """

    def __init__(self, iou_threshold: float = 0.3, max_gap_s: float = 1.0, max_shift: float = 0.6,
                 max_scale_change: float = 1.6) -> None:
        if not 0.0 < iou_threshold <= 1.0:
            raise ValueError("iou_threshold must be in (0, 1]")
        if max_gap_s < 0:
            raise ValueError("max_gap_s must not be negative")
        self.iou_threshold = iou_threshold
        self.max_gap_s = max_gap_s
        self.max_shift = max_shift
        self.max_scale_change = max_scale_change
        self.reset()

    def reset(self) -> None:
        """Forget every track; the next face seen is "Face 1" again."""
        self._tracks: dict[int, _Track] = {}
        self._next_id = 1

    @property
    def active_ids(self) -> list[int]:
        """Ids of the tracks that can still be continued (seen within max_gap_s of the last update)."""
        return sorted(self._tracks)

    def update(self, boxes: np.ndarray, t: float) -> list[int]:
        """Assign a track id to each box (N, 4) as x, y, w, h in pixels at time t seconds; same order.

        Times should not go backwards; a jump back (a stream restarted) is treated like a long gap.
        """
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        self._expire(t)
        ids = [0] * len(boxes)
        track_ids = list(self._tracks)
        if len(boxes) and track_ids:
            old = np.stack([self._tracks[i].box for i in track_ids])
            cost = self._cost(old, boxes)
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols):
                if cost[r, c] < _NO_MATCH:
                    ids[c] = track_ids[r]
        for c, box in enumerate(boxes):
            if not ids[c]:
                ids[c] = self._next_id
                self._next_id += 1
            self._tracks[ids[c]] = _Track(box.copy(), t)
        return ids

    def _expire(self, t: float) -> None:
        for tid in [i for i, tr in self._tracks.items() if t - tr.last_t > self.max_gap_s or t < tr.last_t]:
            del self._tracks[tid]

    def _cost(self, old: np.ndarray, new: np.ndarray) -> np.ndarray:
        """(tracks, boxes) costs: 1 - IoU for overlapping pairs (< 1 - threshold); pairs allowed only by
        proximity cost more than any overlapping pair; forbidden pairs cost _NO_MATCH."""
        iou = box_iou(_xyxy(old), _xyxy(new))
        cost = np.where(iou >= self.iou_threshold, 1.0 - iou, _NO_MATCH)
        if self.max_shift > 0:
            side_old = np.maximum(old[:, 2:4].max(1), 1e-6)[:, None]
            side_new = np.maximum(new[:, 2:4].max(1), 1e-6)[None, :]
            centre_old = old[:, :2] + old[:, 2:] / 2
            centre_new = new[:, :2] + new[:, 2:] / 2
            shift = np.linalg.norm(centre_old[:, None] - centre_new[None], axis=2) / side_old
            scale = np.maximum(side_old / side_new, side_new / side_old)
            near = (shift <= self.max_shift) & (scale <= self.max_scale_change) & (cost >= _NO_MATCH)
            cost = np.where(near, 2.0 + shift, cost)
        return cost


class ProbabilitySmoother:
    """Per-track exponential moving average of class probabilities, weighted by elapsed time.

    Time-based rather than per-sample, so the result does not depend on the sampling rate: a score change
    is half-followed after `half_life_s` seconds. A track unseen for more than `max_gap_s` starts afresh.
    Single frames flicker (blinks, motion blur); a short half-life keeps real changes visible.
    """

    def __init__(self, half_life_s: float = 0.4, max_gap_s: float = 1.0) -> None:
        if half_life_s < 0:
            raise ValueError("half_life_s must not be negative")
        self.half_life_s = half_life_s
        self.max_gap_s = max_gap_s
        self.reset()

    def reset(self) -> None:
        self._state: dict[int, tuple[np.ndarray, float]] = {}

    def forget(self, track_id: int) -> None:
        self._state.pop(track_id, None)

    def update(self, track_id: int, probs: np.ndarray, t: float) -> np.ndarray:
        """Smoothed probabilities for this track after observing `probs` at time t (sums to 1)."""
        p = np.asarray(probs, dtype=np.float64)
        prev = self._state.get(track_id)
        if prev is None or t - prev[1] > self.max_gap_s or t < prev[1] or self.half_life_s == 0:
            out = p
        else:
            keep = math.pow(0.5, (t - prev[1]) / self.half_life_s)
            out = keep * prev[0] + (1.0 - keep) * p
        total = out.sum()
        out = out / total if total > 0 else out
        self._state[track_id] = (out, t)
        return out.astype(np.float32)
