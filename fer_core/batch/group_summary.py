"""The summary over a whole batch, per clip and per clip minute, from small per-clip records.

Workers analyse clips in other processes (or machines), so each clip is reduced to a few JSON-ready rows
(`minute_rows`, `clip_row`: plain ints, floats, strings and None) that the coordinator stores beside the clip
and later gathers into `summary_csv` / `summary_html`. Shares are over face-samples (one face in one sampled
frame): an expression's share is how many of them had it as the top smoothed expression. Faces are tracks
within one clip; nothing links a face in one clip to a face in another, and no identity features exist.
"""
from __future__ import annotations

import csv
import io
from html import escape
from typing import Any, Iterable

import numpy as np

from fer_core.batch.html_report import clock, notice_html, page, pct, table_html
from fer_core.detection.head_pose import FACING_MAX_DEG
from fer_core.labels import CLASSES
from fer_core.video.analysis import FaceSample, VideoAnalysis
from fer_core.video.summary import uncertain_mask

SUMMARY_COLUMNS = ("clip_id", "minute", "duration_s", "faces", "frames", "samples", "faces_in_view",
                   *(f"expr_{c}" for c in CLASSES), "unsure_share", "facing_share")


def _r(v: float | None, digits: int = 4) -> float | None:
    return None if v is None else round(float(v), digits)


def _row(analysis: VideoAnalysis, clip_id: str, minute: int | str, frames: int, samples: list[FaceSample],
         duration_s: float) -> dict[str, Any]:
    n = len(samples)
    row: dict[str, Any] = {"clip_id": clip_id, "minute": minute, "duration_s": _r(duration_s, 3),
                           "faces": len({s.track for s in samples}), "frames": frames, "samples": n,
                           "faces_in_view": _r(n / frames) if frames else None}
    probs = np.stack([s.probs for s in samples]) if n else np.zeros((0, len(analysis.labels)))
    counts = np.bincount(probs.argmax(1), minlength=len(analysis.labels)) if n else None
    for c, name in enumerate(analysis.labels):
        row[f"expr_{name}"] = _r(counts[c] / n) if n else None
    row["unsure_share"] = _r(uncertain_mask(probs).mean()) if n else None
    posed = [s.turn <= FACING_MAX_DEG for s in samples if s.turn is not None]
    row["facing_share"] = _r(sum(posed) / len(posed)) if posed else None
    return row


def minute_rows(analysis: VideoAnalysis, clip_id: str) -> list[dict[str, Any]]:
    """One row per minute of the clip that was sampled (minute 0 is 0-60 s), in order."""
    times = np.asarray(analysis.frame_times, dtype=np.float64)
    if not len(times):
        return []
    minutes = (times // 60).astype(int)
    by_minute: dict[int, list[FaceSample]] = {}
    for s in analysis.samples:
        by_minute.setdefault(int(s.t // 60), []).append(s)
    rows = []
    for m in range(int(minutes.max()) + 1):
        frames = int((minutes == m).sum())
        if not frames:
            continue
        samples = by_minute.get(m, [])
        span = min(analysis.duration_s, 60.0 * (m + 1)) - 60.0 * m
        rows.append(_row(analysis, clip_id, m, frames, samples, max(span, 0.0)))
    return rows


def clip_row(analysis: VideoAnalysis, clip_id: str) -> dict[str, Any]:
    """The same figures over the whole analysed clip (`minute` is "all", `faces` the number of tracks)."""
    return _row(analysis, clip_id, "all", len(analysis.frame_times), analysis.samples, analysis.duration_s)


def _ordered(rows: list[dict[str, Any]]) -> list[str]:
    extra = [k for r in rows for k in r if k not in SUMMARY_COLUMNS]
    return [*SUMMARY_COLUMNS, *dict.fromkeys(extra)]


def summary_csv(rows: Iterable[dict[str, Any]]) -> bytes:
    """All rows (clip rows and minute rows) as one CSV; empty cells are missing values."""
    rows = list(rows)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=_ordered(rows), lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: "" if v is None else v for k, v in r.items()})
    return buf.getvalue().encode("utf-8")


def _classes(rows: list[dict[str, Any]]) -> list[str]:
    return [k[5:] for k in _ordered(rows) if k.startswith("expr_")]


def _cells(r: dict[str, Any], first: str, classes: list[str]) -> list[Any]:
    top = {c: r.get(f"expr_{c}") for c in classes}
    known = {c: v for c, v in top.items() if v is not None}
    most = max(known, key=known.get) if known else "–"
    fiv = r.get("faces_in_view")
    return [first, clock(r.get("duration_s") or 0, 0), r.get("faces", 0),
            "–" if fiv is None else f"{fiv:.1f}", most, *(pct(top[c]) for c in classes),
            pct(r.get("unsure_share")), pct(r.get("facing_share"))]


def summary_html(rows: Iterable[dict[str, Any]], notice: bool = True) -> bytes:
    """A printable page: every clip in one table, then each clip's minutes."""
    rows = list(rows)
    classes = _classes(rows)
    heads = ["", "Length", "Faces", "Faces in view", "Most often", *classes, "Unsure", "Facing camera"]
    numeric = (1, 2, 3, *range(5, len(heads)))
    clips = [r for r in rows if r.get("minute") == "all"]
    parts = ["<h1>Batch summary</h1>",
             f"<p class=\"muted\">{len(clips)} clip{'s' if len(clips) != 1 else ''}. Percentages are shares of "
             "face readings (one face in one analysed frame): how often each facial expression was the top "
             "reading, how often the model was unsure, and how often the head was turned towards the camera "
             "(of the readings with a measured head pose). Faces in view: the mean number of faces per "
             "analysed frame.</p>",
             "<p class=\"small muted\">Faces are numbered within each clip only. Nothing links a face in one clip "
             "to a face in another: no identity features are computed or kept, so these figures cannot follow "
             "a person across clips.</p>"]
    if notice:
        parts.append(notice_html())
    if not clips:
        parts.append("<p>No clip has been analysed yet.</p>")
    else:
        parts += ["<h2>Clips</h2>", table_html(["Clip", *heads[1:]], [_cells(r, r["clip_id"], classes) for r in clips],
                                               numeric)]
    for c in clips:
        minutes = [r for r in rows if r.get("clip_id") == c["clip_id"] and r.get("minute") != "all"]
        if minutes:
            parts += [f"<h3>{escape(str(c['clip_id']))}, minute by minute</h3>",
                      table_html(["Minute", *heads[1:]],
                                 [_cells(r, f"{r['minute']}:00–{r['minute'] + 1}:00", classes) for r in minutes],
                                 numeric)]
    return page("FER Lens batch summary", "\n".join(parts)).encode("utf-8")
