"""Exports of a clip analysis, all built in memory: the timeline as CSV or JSON, and a face-blurred,
annotated copy of the clip for sharing.

Timeline schema (CSV columns, JSON "timeline" rows): time_s, track, x, y, w, h, label, one column per class
(the smoothed probability, named by the class), then uncertain, facing_camera, yaw_deg, pitch_deg, and the
facial movements measured on the Face Mesh (`detection.movements`: mouth_corners_raised, mouth_open, ...; in eye
spacings against FER+ neutral faces; empty where no mesh fitted): a compact summary of the 468 points.
One row per sampled frame and face; sampled frames without a face have no row (JSON lists every sampled
time under "sampled_times_s").
"""
from __future__ import annotations

import io
import json
from fractions import Fraction
from pathlib import Path
from typing import Callable

import av
import cv2
import numpy as np

from fer_core.detection.movements import MOVEMENTS
from fer_core.draw import blur_faces  # noqa: F401 - part of this module's interface (the blurred copy)
from fer_core.evaluation.uncertainty import UNCERTAIN_MARGIN, UNCERTAIN_TOP
from fer_core.labels import COLORS_RGB
from fer_core.report import to_csv
from fer_core.video.analysis import FaceSample, VideoAnalysis
from fer_core.video.decode import VideoSource, iter_frames
from fer_core.video.summary import uncertain_mask

BASE_COLUMNS = ("time_s", "track", "x", "y", "w", "h", "label")
EXTRA_COLUMNS = ("uncertain", "facing_camera", "yaw_deg", "pitch_deg", *(m.key for m in MOVEMENTS))
SHARE_MAX_SIDE = 720


def timeline_columns(labels: tuple[str, ...]) -> list[str]:
    return [*BASE_COLUMNS, *labels, *EXTRA_COLUMNS]


def _row(s: FaceSample, labels: tuple[str, ...]) -> dict:
    x, y, w, h = (int(round(v)) for v in s.box)
    return {"time_s": round(s.t, 3), "track": s.track, "x": x, "y": y, "w": w, "h": h,
            "label": labels[int(np.argmax(s.probs))], **{c: round(float(p), 4) for c, p in zip(labels, s.probs)},
            "uncertain": bool(uncertain_mask(s.probs[None])[0]),
            "facing_camera": None if s.turn is None else bool(s.turn <= 30.0),
            "yaw_deg": s.yaw, "pitch_deg": s.pitch,
            **{m.key: None if s.movements is None else s.movements[m.key] for m in MOVEMENTS}}


def timeline_rows(analysis: VideoAnalysis) -> list[dict]:
    """One row per sampled frame and face, in time order (see the module docstring for the columns)."""
    rows = [_row(s, analysis.labels) for s in sorted(analysis.samples, key=lambda s: (s.t, s.track))]
    return rows


def timeline_csv(analysis: VideoAnalysis) -> bytes:
    rows = timeline_rows(analysis)
    if not rows:  # still a valid table: the header alone
        return (",".join(timeline_columns(analysis.labels)) + "\n").encode("utf-8")
    return to_csv(rows)


def timeline_document(analysis: VideoAnalysis, clip_name: str | None = None) -> dict:
    """Everything as one JSON-ready dict: clip, settings, per-face summaries, key moments, timeline."""
    return {
        "clip": {"name": clip_name, **(analysis.info.to_json() if analysis.info else {})},
        "settings": analysis.settings,
        "analysed_s": round(analysis.duration_s, 3),
        "sampled_frames": int(len(analysis.frame_times)),
        "brief_detections_left_out": analysis.dropped_tracks,
        "uncertain_rule": {"top_below": UNCERTAIN_TOP, "margin_below": UNCERTAIN_MARGIN},
        "note": "Scores describe visible facial expressions (how much a face looks like faces people labelled "
                "with each expression); they do not measure feelings or attention.",
        "columns": timeline_columns(analysis.labels),
        "faces": [analysis.summaries[t].to_json() for t in analysis.tracks],
        "key_moments": [m.to_json() for m in analysis.moments],
        "sampled_times_s": [round(float(t), 3) for t in analysis.frame_times],
        "timeline": timeline_rows(analysis),
    }


def timeline_json(analysis: VideoAnalysis, clip_name: str | None = None) -> bytes:
    return (json.dumps(timeline_document(analysis, clip_name), indent=1) + "\n").encode("utf-8")


def write_timeline(analysis: VideoAnalysis, out: Path, clip_name: str | None = None) -> None:
    """Write CSV or JSON, chosen by the file's extension."""
    suffix = out.suffix.lower()
    if suffix == ".csv":
        out.write_bytes(timeline_csv(analysis))
    elif suffix == ".json":
        out.write_bytes(timeline_json(analysis, clip_name))
    else:
        raise ValueError(f"--out must end in .csv or .json, not {out.suffix or '(nothing)'}")


# ---- a face-blurred, annotated copy for sharing ----------------------------------------------------------

def draw_tracks(rgb: np.ndarray, samples: list[FaceSample], labels: tuple[str, ...], scale: float = 1.0,
                thickness: int = 2, display_width: int | None = None) -> np.ndarray:
    """Boxes coloured by the smoothed expression, labelled "Face N: expression NN%". `scale`: clip pixels
    per pixel of `rgb`. With `display_width` (the screen pixels the frame is shown at), the letters are sized
    to stay readable there, as on photos (`fer_core.draw.label_font`)."""
    out = rgb.copy()
    font_scale, weight = max(0.5, max(out.shape[:2]) / 1300), 1
    if display_width:
        from fer_core.draw import label_font

        font_scale, weight = label_font(out.shape[1], display_width)
        thickness = max(thickness, 2 * weight)
    for s in samples:
        x, y, w, h = (int(round(v / scale)) for v in s.box)
        c = int(np.argmax(s.probs))
        colour = COLORS_RGB.get(labels[c], (255, 255, 255))
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, thickness)
        text = f"Face {s.track}: {labels[c]} {float(s.probs[c]):.0%}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, weight)
        top = y - th - base - 4 if y - th - base - 4 >= 0 else min(out.shape[0] - th - base - 4, y + h + 2)
        x0 = min(max(0, x), max(0, out.shape[1] - tw - 4))
        cv2.rectangle(out, (x0, top), (x0 + tw + 4, top + th + base + 4), colour, -1)
        cv2.putText(out, text, (x0 + 2, top + th + 2), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), weight,
                    cv2.LINE_AA)
    return out


def shareable_clip(source: VideoSource, analysis: VideoAnalysis, max_side: int = SHARE_MAX_SIDE,
                   progress: Callable[[float, float], None] | None = None) -> bytes:
    """An MP4 (H.264) of the sampled frames with every detected face pixelated and labelled, in memory.

    Only the sampled frames are written (at the sampling rate), because only there are the faces' boxes
    known: holding a box over the frames in between could leave a moving face unblurred. Faces the detector
    missed are not blurred, so the person sharing must look through it first (the page says so).
    """
    brief = {id(s) for s in analysis.brief}
    by_time: dict[float, list[FaceSample]] = {}
    for s in [*analysis.samples, *analysis.brief]:
        by_time.setdefault(round(s.t, 3), []).append(s)
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as out:
        stream, last_pts = None, -1
        for frame in iter_frames(source, fps=analysis.fps, max_side=max_side):
            faces = by_time.get(round(frame.t, 3), [])
            rgb = blur_faces(frame.rgb, [tuple(v / frame.scale for v in s.box) for s in faces])
            rgb = draw_tracks(rgb, [s for s in faces if id(s) not in brief], analysis.labels, frame.scale)
            h, w = rgb.shape[:2]
            rgb = np.ascontiguousarray(rgb[: h - h % 2, : w - w % 2])
            if stream is None:
                stream = out.add_stream("libx264", rate=Fraction(analysis.fps).limit_denominator(1000))
                stream.width, stream.height = rgb.shape[1], rgb.shape[0]
                stream.pix_fmt = "yuv420p"
                stream.options = {"crf": "26", "preset": "veryfast"}
            video_frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            last_pts = video_frame.pts = max(last_pts + 1, int(round(frame.t * analysis.fps)))
            video_frame.time_base = Fraction(1, 1) / Fraction(analysis.fps).limit_denominator(1000)
            for packet in stream.encode(video_frame):
                out.mux(packet)
            if progress:
                progress(frame.t, analysis.duration_s)
        if stream is not None:
            for packet in stream.encode():
                out.mux(packet)
    return buf.getvalue()
