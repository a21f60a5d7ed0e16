"""A tidy timeline of one clip: one row per sampled frame and face, the same columns in every clip of a batch,
so the files of a whole batch concatenate into one table (CSV for spreadsheets, Parquet for pandas/R/DuckDB).

Columns (`TIDY_COLUMNS`, lower snake case):

- `clip_id`: the batch's name for the clip.
- `frame`: the frame number in the source clip at its own frame rate, `round(time_s x native fps)`, counted
  from 0, so rows join other per-frame data of the clip (annotations, py-feat, OpenFace). For a
  variable-frame-rate clip the container's average rate is used; when the container states no rate, it is
  the sampled frame's index at the sampling rate instead.
- `time_s`: seconds from the start of the clip.
- `face`: the face's track number ("Face 1" is 1), stable within this clip only.
- `x`, `y`, `w`, `h`: the face box in the clip's upright pixels.
- `face_score`: the face finder's confidence that this is a face.
- `expression`: the top expression of the smoothed scores (what the timelines show).
- `p_neutral` ... `p_contempt`: the smoothed score of each expression (they sum to 1).
- `uncertain`: the app's "unsure" rule on the smoothed scores (`evaluation.uncertainty`).
- `facing_camera`: head turned less than 30 degrees from the camera; empty when no pose was measured.
- `yaw_deg`, `pitch_deg`: head pose in degrees; empty when not measured.
- one column per facial movement (`detection.movements.MOVEMENTS`: `mouth_corners_raised`, ...), in eye
  spacings against FER+ neutral faces; empty where no face mesh fitted.

Sampled frames without a face have no row.
"""
from __future__ import annotations

import csv
import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fer_core.detection.head_pose import FACING_MAX_DEG
from fer_core.detection.movements import MOVEMENTS
from fer_core.labels import CLASSES
from fer_core.video.analysis import FaceSample, VideoAnalysis
from fer_core.video.summary import uncertain_mask

MOVEMENT_COLUMNS = tuple(m.key for m in MOVEMENTS)


def _snake(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def tidy_columns(labels: tuple[str, ...] = CLASSES) -> tuple[str, ...]:
    """The column names for a model with these class labels."""
    return ("clip_id", "frame", "time_s", "face", "x", "y", "w", "h", "face_score", "expression",
            *(f"p_{_snake(c)}" for c in labels), "uncertain", "facing_camera", "yaw_deg", "pitch_deg",
            *MOVEMENT_COLUMNS)


TIDY_COLUMNS = tidy_columns(CLASSES)


def source_frame(analysis: VideoAnalysis, t: float) -> int:
    """The frame number of time `t` in the source clip (see `frame` in the module docstring)."""
    native = analysis.info.fps if analysis.info else 0.0
    if native and native > 0:
        return int(round(t * native))
    times = analysis.frame_times
    return int(np.abs(times - t).argmin()) if len(times) else int(round(t * analysis.fps))


def _opt(v: float | None, digits: int) -> float | None:
    return None if v is None else round(float(v), digits)


def _row(analysis: VideoAnalysis, s: FaceSample, clip_id: str, unsure: bool) -> dict:
    labels = analysis.labels
    x, y, w, h = (int(round(v)) for v in s.box)
    return {"clip_id": clip_id, "frame": source_frame(analysis, s.t), "time_s": round(float(s.t), 3),
            "face": int(s.track), "x": x, "y": y, "w": w, "h": h, "face_score": round(float(s.score), 4),
            "expression": labels[int(np.argmax(s.probs))],
            **{f"p_{_snake(c)}": round(float(p), 4) for c, p in zip(labels, s.probs)},
            "uncertain": unsure, "facing_camera": None if s.turn is None else bool(s.turn <= FACING_MAX_DEG),
            "yaw_deg": _opt(s.yaw, 2), "pitch_deg": _opt(s.pitch, 2),
            **{k: None if s.movements is None else _opt(s.movements.get(k), 4) for k in MOVEMENT_COLUMNS}}


def tidy_rows(analysis: VideoAnalysis, clip_id: str) -> list[dict]:
    """One row per sampled frame and face, in time then face order (plain Python values)."""
    samples = sorted(analysis.samples, key=lambda s: (s.t, s.track))
    if not samples:
        return []
    unsure = uncertain_mask(np.stack([s.probs for s in samples]))
    return [_row(analysis, s, clip_id, bool(u)) for s, u in zip(samples, unsure)]


def tidy_csv(analysis: VideoAnalysis, clip_id: str) -> bytes:
    """UTF-8 CSV of `tidy_rows`; the header alone when no face was found. Empty cells are missing values."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=tidy_columns(analysis.labels), lineterminator="\n")
    writer.writeheader()
    for row in tidy_rows(analysis, clip_id):
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buf.getvalue().encode("utf-8")


def tidy_schema(labels: tuple[str, ...] = CLASSES) -> pa.Schema:
    """Explicit Parquet types, so that a clip without faces still gives a typed, empty table."""
    types = {"clip_id": pa.string(), "frame": pa.int64(), "time_s": pa.float64(), "face": pa.int32(),
             "x": pa.int32(), "y": pa.int32(), "w": pa.int32(), "h": pa.int32(), "face_score": pa.float64(),
             "expression": pa.string(), "uncertain": pa.bool_(), "facing_camera": pa.bool_(),
             "yaw_deg": pa.float64(), "pitch_deg": pa.float64()}
    return pa.schema([pa.field(c, types.get(c, pa.float64()), nullable=c not in ("clip_id", "frame", "time_s"))
                      for c in tidy_columns(labels)])


def tidy_parquet(analysis: VideoAnalysis, clip_id: str) -> bytes:
    """`tidy_rows` as a Parquet file (in memory), with `tidy_schema`'s types."""
    schema = tidy_schema(analysis.labels)
    rows = tidy_rows(analysis, clip_id)
    table = pa.Table.from_pydict({c: [r[c] for r in rows] for c in schema.names}, schema=schema)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()
