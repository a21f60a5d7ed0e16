"""One clip's report as a single printable HTML page, for a teacher to open, read and print: what was analysed,
face-pixelated pictures of the key moments, each face's timeline, plain observations, the model and the
notice of what the numbers are not.

Pictures are re-decoded from the clip (`moment_faces`), every face found in that frame (also the brief
detections left out of the timelines) is pixelated with `blur_faces` before anything else, and only then is
the frame shrunk to a thumbnail and labelled, so no picture in the report ever shows a recognisable face
the face finder saw. Plots are drawn with matplotlib's Agg canvas in memory (no display, no pyplot state).
"""
from __future__ import annotations

import io
from html import escape
from typing import Any

import cv2
import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from fer_core import __version__
from fer_core.batch.html_report import card_summary_html, clock, img_tag, notice_html, page, pct, table_html
from fer_core.evaluation.uncertainty import UNCERTAIN_MARGIN, UNCERTAIN_TOP
from fer_core.labels import COLORS_RGB, hex_color
from fer_core.video.analysis import FaceSample, VideoAnalysis, moment_faces
from fer_core.video.decode import VideoSource
from fer_core.video.export import blur_faces, draw_tracks
from fer_core.video.summary import KeyMoment, uncertain_mask

THUMB_SIDE = 320  # longer side of a key-moment picture, in pixels
MAX_THUMBS = 8
MAX_PLOTS = 12  # timelines drawn for at most this many faces (the longest in view); the table lists all
GAP_STEPS = 1.5  # samples further apart than this: the face was out of view, the line breaks


def _at(samples: list[FaceSample], t: float) -> list[FaceSample]:
    return [s for s in samples if abs(s.t - t) < 1e-6]


def moment_thumbnail(source: VideoSource, analysis: VideoAnalysis, t: float, side: int = THUMB_SIDE) -> np.ndarray:
    """The sampled frame nearest `t` with every found face pixelated, shrunk to `side` px, then labelled."""
    t = analysis.nearest_time(t)
    moment = moment_faces(source, analysis, t)
    faces = [s for s, _ in moment.faces]
    boxes = [tuple(v / moment.scale for v in s.box) for s in [*faces, *_at(analysis.brief, t)]]
    rgb = blur_faces(moment.rgb, boxes)
    h, w = rgb.shape[:2]
    k = min(1.0, side / max(h, w))
    if k < 1.0:
        rgb = cv2.resize(rgb, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)
    return draw_tracks(rgb, faces, analysis.labels, scale=moment.scale / k, thickness=1)


def jpeg_bytes(rgb: np.ndarray, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def chosen_moments(analysis: VideoAnalysis, limit: int = MAX_THUMBS) -> list[tuple[float, list[KeyMoment]]]:
    """Key moments grouped by sampled frame (several faces can share one), at most `limit` frames spread over
    the clip, in time order."""
    groups: dict[float, list[KeyMoment]] = {}
    for m in analysis.moments:
        groups.setdefault(analysis.nearest_time(m.t), []).append(m)
    times = sorted(groups)
    if len(times) > limit:
        times = [times[i] for i in np.unique(np.linspace(0, len(times) - 1, limit).round().astype(int))]
    return [(t, groups[t]) for t in times]


def _runs(mask: np.ndarray, times: np.ndarray, step: float) -> list[tuple[int, int]]:
    """(first, last) index of each run of True in `mask` with no gap in `times` (one band per run, not per
    sample, so a long clip draws quickly)."""
    runs: list[tuple[int, int]] = []
    for i in np.flatnonzero(mask):
        if runs and runs[-1][1] == i - 1 and times[i] - times[i - 1] <= GAP_STEPS * step:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def timeline_png(analysis: VideoAnalysis, track: int) -> bytes:
    """One face's smoothed scores over time (unsure stretches shaded), as PNG bytes."""
    times, probs, _ = analysis.arrays(track)
    step = 1.0 / analysis.fps
    breaks = np.flatnonzero(np.diff(times) > GAP_STEPS * step) + 1
    unit, per = ("minutes", 60.0) if analysis.duration_s > 180 else ("seconds", 1.0)
    t_plot = np.insert(times, breaks, np.nan) / per
    fig = Figure(figsize=(7.4, 1.75), dpi=120)
    ax = fig.add_axes((0.065, 0.2, 0.77, 0.72))
    unsure = uncertain_mask(probs) if len(times) else np.zeros(0, bool)
    for a, b in _runs(unsure, times, step):
        ax.axvspan((times[a] - step / 2) / per, (times[b] + step / 2) / per, color="#000000", alpha=0.07, lw=0)
    for c, name in enumerate(analysis.labels):
        y = np.insert(probs[:, c], breaks, np.nan)
        colour = hex_color(name) if name in COLORS_RGB else None
        ax.plot(t_plot, y, color=colour, lw=1.5, label=name)
    if unsure.any():
        ax.fill_between([], [], color="#000000", alpha=0.12, lw=0, label="unsure")
    ax.set_xlim(0, max(analysis.duration_s, step) / per)
    ax.set_ylim(0, 1)
    ax.set_yticks([0, 0.5, 1], ["0%", "50%", "100%"])
    ax.set_xlabel(f"{unit} into the clip", fontsize=7.5, labelpad=1)
    ax.tick_params(labelsize=7, length=2, pad=1.5)
    ax.grid(axis="y", color="#dddddd", lw=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_title(f"Face {track}", fontsize=8.5, loc="left", pad=2)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=6.5, frameon=False, handlelength=1.4,
              borderaxespad=0, labelspacing=0.25)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _header(analysis: VideoAnalysis, clip_name: str, card: dict[str, Any] | None) -> str:
    info = analysis.info
    span = clock(analysis.duration_s)
    if analysis.cut_short and info and info.duration_s:
        span = f"the first {clock(analysis.duration_s)} of {clock(info.duration_s)}"
    elif info and info.duration_s:
        span += " (the whole clip)"
    model = (card or {}).get("name") or analysis.settings.get("model", "?")
    facts = [("Analysed", span),
             ("Sampling", f"{analysis.fps:g} frames per second ({len(analysis.frame_times)} frames looked at)"),
             ("Faces", f"{len(analysis.tracks)} found" + (f" (and {analysis.dropped_tracks} brief detection"
                                                         f"{'s' if analysis.dropped_tracks != 1 else ''} left out)"
                                                         if analysis.dropped_tracks else "")),
             ("Model", f"{model}, face finder {analysis.settings.get('detector', '?')}")]
    if info:
        facts.insert(1, ("Clip", f"{info.width}x{info.height} pixels, {info.fps:.3g} frames per second"))
    rows = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts)
    return (f"<header><h1>{escape(clip_name)}</h1><p class=\"muted\">Facial-expression readings of a clip, by FER "
            f"Lens</p><dl class=\"facts\">{rows}</dl></header>")


def _moments_html(source: VideoSource, analysis: VideoAnalysis) -> str:
    chosen = chosen_moments(analysis)
    if not chosen:
        return "<h2>Key moments</h2><p>No key moments: " + (
            "no face was found." if not analysis.tracks else "no expression changed or peaked clearly.") + "</p>"
    figures = []
    for t, ms in chosen:
        what = "; ".join(f"Face {m.track}: {m.title}" for m in ms)
        alt = f"Frame at {clock(t)} with faces pixelated and boxed. {what}"
        picture = img_tag(jpeg_bytes(moment_thumbnail(source, analysis, t)), alt)
        figures.append(f'<figure data-time-s="{t!r}">{picture}'
                       f"<figcaption><b>{clock(t)}</b> · {escape(what)}</figcaption></figure>")
    more = len({round(m.t, 3) for m in analysis.moments})
    note = (f" Showing {len(chosen)} of {more} moments, spread over the clip; the timelines below show all of "
            "them." if more > len(chosen) else "")
    return ("<h2>Key moments</h2><p class=\"small muted intro\">Where a face's expression changed or peaked. "
            "Every face the face finder found is pixelated; a face it missed is not, so look through the pictures "
            f"before sharing this report.{note}</p><div class=\"grid\">{''.join(figures)}</div>")


def _timelines_html(analysis: VideoAnalysis) -> str:
    tracks = sorted(analysis.tracks, key=lambda k: -analysis.summaries[k].visible_s)[:MAX_PLOTS]
    plots = "".join(
        f'<div class="face">{img_tag(timeline_png(analysis, k), _plot_alt(analysis, k), "plot")}</div>'
        for k in sorted(tracks))
    note = (f" Drawn for the {MAX_PLOTS} faces in view longest; the table lists all {len(analysis.tracks)}."
            if len(analysis.tracks) > MAX_PLOTS else "")
    return ("<h2>Timelines</h2><p class=\"small muted intro\">Each line is one expression's score (smoothed over about "
            f"half a second). Grey bands: the model was unsure (top score below {UNCERTAIN_TOP:.0%}, or the runner-up "
            f"within {UNCERTAIN_MARGIN * 100:.0f} points). Gaps: the face was out of view.{note}</p>{plots}")


def _plot_alt(analysis: VideoAnalysis, track: int) -> str:
    s = analysis.summaries[track]
    return (f"Timeline of Face {track}'s expression scores from {clock(s.first_s)} to {clock(s.last_s)}; it looked "
            f"most like {s.dominant} ({pct(s.expression_share[s.dominant])} of its time in view).")


def _observations_html(analysis: VideoAnalysis) -> str:
    rows = []
    for k in analysis.tracks:
        s = analysis.summaries[k]
        mix = sorted(((c, v) for c, v in s.expression_share.items() if v >= 0.05), key=lambda cv: -cv[1])
        rows.append((f"Face {k}", f"{clock(s.visible_s)} ({pct(s.visible_share)})", pct(s.facing_share), s.dominant,
                     ", ".join(f"{c} {pct(v)}" for c, v in mix), s.changes, pct(s.uncertain_share)))
    table = table_html(("Face", "In view", "Facing camera", "Looked most like", "Share of time in view", "Changes",
                        "Unsure"), rows, numeric=(1, 2, 5, 6))
    return ("<h2>Observations per face</h2><p class=\"small muted intro\">Faces are numbered in the order they appear, "
            "within this clip only; nothing identifies who they are. A face that leaves the picture for more than "
            "a second comes back with a new number. Facing camera: head turned less than 30° from it. Changes: "
            "a new expression that held at least 0.6 s.</p>" + table)


def clip_report_html(source: VideoSource, analysis: VideoAnalysis, clip_name: str,
                     card: dict[str, Any] | None) -> bytes:
    """The report as UTF-8 HTML bytes. `source`: the clip (to fetch the key moments' frames again)."""
    parts = [_header(analysis, clip_name, card), notice_html()]
    if analysis.tracks:
        parts += [_moments_html(source, analysis), _timelines_html(analysis), _observations_html(analysis)]
    else:
        parts.append("<h2>No face found</h2><p>No face was found in the analysed part of this clip, so there are "
                     "no readings, key moments or timelines. Faces that are very small, strongly turned away, "
                     "covered or in poor light are often missed.</p>")
    parts += ["<h2>The model</h2>", card_summary_html(card),
              f"<footer>Made with FER Lens {escape(__version__)} on this computer; the clip was not uploaded "
              "anywhere.</footer>"]
    return page(f"{clip_name}: facial-expression report", "\n".join(parts)).encode("utf-8")
