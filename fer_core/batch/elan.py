"""The timeline as an ELAN annotation file (.eaf), so a clip can be watched in ELAN with the readings beside the
video, and corrected or coded further by hand.

Per face track: a tier "Face N" with the top smoothed expression in segments (consecutive samples with the same
reading merged; a segment lasts from its first sample to the next segment's start, or one sampling step past
its last sample where the face was lost or the clip ends), and a tier "Face N key moments" with each key
moment's title over one sampling step. Readings the app marks unsure are their own values, e.g.
"neutral (unsure)", so they form their own segments and can be filtered in ELAN. Times are integer
milliseconds, never past the analysed part of the clip. The media descriptor names the clip; ELAN asks for
its place when it is not beside the .eaf file.
"""
from __future__ import annotations

import mimetypes
import tempfile
from pathlib import Path

from pympi.Elan import Eaf

from fer_core.video.analysis import VideoAnalysis
from fer_core.video.summary import uncertain_mask

UNSURE_SUFFIX = " (unsure)"
GAP_STEPS = 1.5  # samples further apart than this many sampling steps: the face was out of view in between


def face_tier(track: int) -> str:
    return f"Face {track}"


def moments_tier(track: int) -> str:
    return f"Face {track} key moments"


def _ms(t: float) -> int:
    return int(round(t * 1000))


def expression_segments(analysis: VideoAnalysis, track: int) -> list[tuple[int, int, str]]:
    """(start ms, end ms, value) of one face, in time order, not overlapping."""
    times, probs, _ = analysis.arrays(track)
    if not len(times):
        return []
    step = 1.0 / analysis.fps
    end_ms = max(_ms(analysis.duration_s), _ms(times[-1]) + 1)
    unsure = uncertain_mask(probs)
    values = [analysis.labels[int(c)] + (UNSURE_SUFFIX if u else "") for c, u in zip(probs.argmax(1), unsure)]
    segments: list[tuple[int, int, str]] = []
    start = 0
    for i in range(1, len(times) + 1):
        last = i == len(times)
        gap = not last and times[i] - times[i - 1] > GAP_STEPS * step
        if last or gap or values[i] != values[start]:
            stop = min(end_ms, _ms(times[i - 1] + step)) if (last or gap) else _ms(times[i])
            if stop > _ms(times[start]):
                segments.append((_ms(times[start]), stop, values[start]))
            start = i
    return segments


def moment_annotations(analysis: VideoAnalysis, track: int) -> list[tuple[int, int, str]]:
    """(start ms, end ms, title) of one face's key moments, each one sampling step long (shorter where the next
    moment or the end of the clip comes first)."""
    starts = sorted((_ms(m.t), m.title) for m in analysis.moments if m.track == track)
    end_ms = _ms(analysis.duration_s)
    step_ms = max(1, _ms(1.0 / analysis.fps))
    out = []
    for k, (start, title) in enumerate(starts):
        nxt = starts[k + 1][0] if k + 1 < len(starts) else max(end_ms, start + 1)
        stop = min(start + step_ms, nxt)
        if stop > start:
            out.append((start, stop, title))
    return out


def build_eaf(analysis: VideoAnalysis, media_name: str, media_url: str | None = None) -> Eaf:
    """The pympi document: media descriptor, two tiers per face."""
    eaf = Eaf(author="FER Lens")
    eaf.remove_tier("default")
    mime = mimetypes.guess_type(media_name)[0] or "video/*"
    url = media_url or (Path(media_name).as_uri() if Path(media_name).is_absolute() else media_name)
    eaf.add_linked_file(url, relpath=f"./{Path(media_name).name}", mimetype=mime)
    for track in analysis.tracks:
        eaf.add_tier(face_tier(track))
        for start, stop, value in expression_segments(analysis, track):
            eaf.add_annotation(face_tier(track), start, stop, value)
        eaf.add_tier(moments_tier(track))
        for start, stop, title in moment_annotations(analysis, track):
            eaf.add_annotation(moments_tier(track), start, stop, title)
    return eaf


def elan_eaf(analysis: VideoAnalysis, media_name: str, media_url: str | None = None) -> bytes:
    """The .eaf file as bytes. `media_name`: the clip's file name (or path); `media_url`: its URL if known.
    pympi only writes to a path, so it writes into a private temporary folder that is removed at once."""
    eaf = build_eaf(analysis, media_name, media_url)
    with tempfile.TemporaryDirectory(prefix="fer-lens-eaf-") as folder:
        path = Path(folder) / "annotations.eaf"
        eaf.to_file(str(path))
        return path.read_bytes()

