"""The timeline as a py-feat table, so researchers who use py-feat (`feat.utils.io.read_feat`) can load it as a
`Fex` and use `.faceboxes`, `.emotions` and its plotting and statistics on FER Lens's readings.

The columns are py-feat's own names (`PYFEAT_COLUMNS`), then three of ours that read_feat keeps as plain
columns: `contempt`, `face` (the track number within this clip) and `time_s`. py-feat's emotion set has no
contempt, so the seven py-feat columns hold the model's scores unchanged and `contempt` holds the eighth;
the seven then sum to 1 minus contempt (not renormalised, so every number is the model's own). Scores are
the smoothed ones, as in FER Lens's timelines and tidy tables. `frame` is the frame number in the source clip
(`tidy.source_frame`), as py-feat counts frames of a video. No landmark, pose, action-unit or identity
columns are written (FER Lens measures different things), so `Fex.landmarks`, `.poses` and `.aus` are empty
or unavailable; no column name contains "AU", which read_feat would take for an action unit.
"""
from __future__ import annotations

import csv
import io

from fer_core.batch.tidy import source_frame
from fer_core.video.analysis import VideoAnalysis

# Read from py-feat 2.1.5 (the current release): feat/utils/__init__.py FEAT_FACEBOX_COLUMNS and
# FEAT_EMOTION_COLUMNS, FEAT_TIME_COLUMNS ("frame"); feat/detector.py Detector.detect adds "input" (the file)
# and, for videos, "approx_time" ("MM:SS"). feat/utils/io.py read_feat uses exactly these groups.
PYFEAT_FACEBOX_COLUMNS = ("FaceRectX", "FaceRectY", "FaceRectWidth", "FaceRectHeight", "FaceScore")
PYFEAT_EMOTION_COLUMNS = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
PYFEAT_COLUMNS = (*PYFEAT_FACEBOX_COLUMNS, *PYFEAT_EMOTION_COLUMNS, "input", "frame", "approx_time")
EXTRA_COLUMNS = ("contempt", "face", "time_s")  # FER Lens's own, after py-feat's


def _approx_time(t: float) -> str:
    """py-feat's `convert_sec_to_min_sec`: whole minutes and seconds, "MM:SS"."""
    return f"{int(t // 60):02d}:{int(t % 60):02d}"


def pyfeat_csv(analysis: VideoAnalysis, input_name: str) -> bytes:
    """UTF-8 CSV with one row per sampled frame and face; `input_name` fills py-feat's `input` column."""
    index = {c: i for i, c in enumerate(analysis.labels)}
    missing = [c for c in (*PYFEAT_EMOTION_COLUMNS, "contempt") if c not in index]
    if missing:
        raise ValueError(f"the model has no class named {', '.join(missing)}: it is not a FER+ model")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*PYFEAT_COLUMNS, *EXTRA_COLUMNS])
    for s in sorted(analysis.samples, key=lambda s: (s.t, s.track)):
        p = [round(float(s.probs[index[c]]), 4) for c in (*PYFEAT_EMOTION_COLUMNS, "contempt")]
        writer.writerow([*(round(float(v), 2) for v in s.box), round(float(s.score), 4), *p[:-1], input_name,
                         source_frame(analysis, s.t), _approx_time(s.t), p[-1], s.track, round(float(s.t), 3)])
    return buf.getvalue().encode("utf-8")
