"""The per-clip outputs of `fer-lens batch` and the group summary, on a real clip from ../shared/media (analysed
once for the module) and on a clip made here that has no face in it: tidy CSV/Parquet, the py-feat table
(loaded by py-feat's own `read_feat` where py-feat is installed), the ELAN file, the printable report (its
pictures really pixelated) and the per-minute rows."""
from __future__ import annotations

import base64
import csv
import dataclasses
import importlib.util
import io
import json
import math
import os
import re
import subprocess
import sys
from fractions import Fraction
from html.parser import HTMLParser
from pathlib import Path

import av
import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image
from pympi.Elan import Eaf

from fer_core.batch import clip_report, elan, group_summary, html_report, pyfeat, tidy
from fer_core.recognizer import Recognizer
from fer_core.video.analysis import VideoAnalysis, analyze_video
from fer_core.video.decode import frame_at
from fer_core.video.export import blur_faces
from fer_core.video.summary import uncertain_mask
from tests.app.app_support import model_env
from tests.conftest import require_shared

CLIP = "liveportrait_d6.mp4"  # one face, many expressions
FPS, MAX_S = 4.0, 8.0  # enough samples for several segments and key moments, quick on 2 cores


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer(model_env().get("FER_LENS_MODEL"))


@pytest.fixture(scope="module")
def clip(recognizer: Recognizer) -> tuple[Path, VideoAnalysis]:
    path = require_shared("media", "videos", CLIP)
    analysis = analyze_video(path, recognizer, fps=FPS, max_s=MAX_S)
    assert analysis.tracks, f"{CLIP} shows a face all the time; none was found"
    return path, analysis


@pytest.fixture(scope="module")
def faceless(recognizer: Recognizer, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, VideoAnalysis]:
    """A real 2 s clip of a plain wall with a lamp-like blob: decodes fine, contains no face."""
    path = tmp_path_factory.mktemp("faceless") / "wall.mp4"
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(20):
            rgb = np.full((120, 160, 3), 180, np.uint8)
            cv2.circle(rgb, (40 + 3 * i, 60), 15, (250, 240, 200), -1)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 10)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    analysis = analyze_video(path, recognizer, fps=2.0)
    assert len(analysis.frame_times) and not analysis.samples, "the wall clip should be analysed and have no face"
    return path, analysis


# ---- tidy timeline ------------------------------------------------------------------------------------------

def test_tidy_csv_and_parquet_hold_the_same_rows_with_the_documented_columns(clip) -> None:
    _, analysis = clip
    rows = tidy.tidy_rows(analysis, "d6")
    assert len(rows) == len(analysis.samples)
    assert all(tuple(r) == tidy.TIDY_COLUMNS for r in rows)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", c) for c in tidy.TIDY_COLUMNS), "lower snake case throughout"
    for c in tidy.TIDY_COLUMNS:
        assert f"`{c}`" in tidy.__doc__ or c.startswith("p_") or c in tidy.MOVEMENT_COLUMNS, f"{c} undocumented"

    reader = csv.reader(io.StringIO(tidy.tidy_csv(analysis, "d6").decode("utf-8")))
    header, *body = list(reader)
    assert tuple(header) == tidy.TIDY_COLUMNS
    assert body == [["" if v is None else str(v) for v in r.values()] for r in rows]

    table = pq.read_table(io.BytesIO(tidy.tidy_parquet(analysis, "d6")))
    assert tuple(table.column_names) == tidy.TIDY_COLUMNS
    assert table.schema.field("frame").type == pa.int64() and table.schema.field("uncertain").type == pa.bool_()
    assert table.to_pylist() == rows, "Parquet and CSV must carry the very same rows"


def test_tidy_frames_times_and_scores_are_consistent(clip) -> None:
    _, analysis = clip
    rows = tidy.tidy_rows(analysis, "d6")
    native = analysis.info.fps
    assert native > 0
    sampled = {round(float(t), 3) for t in analysis.frame_times}
    for face in analysis.tracks:
        mine = [r for r in rows if r["face"] == face]
        frames = [r["frame"] for r in mine]
        assert all(isinstance(f, int) for f in frames)
        assert all(b > a for a, b in zip(frames, frames[1:])), "frame numbers increase along a face's rows"
    for r in rows:
        assert r["frame"] == round(r["time_s"] * native)
        assert abs(r["frame"] / native - r["time_s"]) <= 0.5 / native + 1e-9
        assert r["time_s"] in sampled
        p = np.array([r[f"p_{c}"] for c in analysis.labels])
        assert p.sum() == pytest.approx(1.0, abs=1e-3)
        assert r["expression"] == analysis.labels[int(p.argmax())]
        assert r["uncertain"] == bool(uncertain_mask(p[None])[0])
        assert 0 <= r["x"] and 0 <= r["y"] and r["x"] + r["w"] <= analysis.info.width + 2
        assert r["y"] + r["h"] <= analysis.info.height + 2


def test_tidy_outputs_without_faces_are_typed_empty_tables(faceless) -> None:
    _, analysis = faceless
    assert tidy.tidy_rows(analysis, "wall") == []
    assert tidy.tidy_csv(analysis, "wall").decode() == ",".join(tidy.TIDY_COLUMNS) + "\n"
    table = pq.read_table(io.BytesIO(tidy.tidy_parquet(analysis, "wall")))
    assert table.num_rows == 0 and tuple(table.column_names) == tidy.TIDY_COLUMNS
    assert table.schema == tidy.tidy_schema(analysis.labels)


# ---- py-feat ------------------------------------------------------------------------------------------------

def _pyfeat_python() -> str:
    if importlib.util.find_spec("feat") is not None:
        return sys.executable
    other = os.environ.get("FER_LENS_PYFEAT_PYTHON")
    if other and Path(other).is_file():
        return other
    pytest.skip("py-feat is not installed (it is not a FER Lens dependency). To run this check, install it in "
                "a separate environment (python3 -m venv /tmp/pyfeat && /tmp/pyfeat/bin/pip install py-feat) and "
                "set FER_LENS_PYFEAT_PYTHON=/tmp/pyfeat/bin/python")


READ_FEAT = """
import json, sys
import feat
from feat.utils import FEAT_EMOTION_COLUMNS, FEAT_FACEBOX_COLUMNS, FEAT_TIME_COLUMNS
from feat.utils.io import read_feat
out = {"version": feat.__version__, "emotion_columns": list(FEAT_EMOTION_COLUMNS),
       "facebox_columns": list(FEAT_FACEBOX_COLUMNS), "time_columns": list(FEAT_TIME_COLUMNS), "files": []}
for path in sys.argv[1:]:
    fex = read_feat(path)
    out["files"].append({"type": type(fex).__name__, "rows": len(fex), "aus": list(fex.aus.columns),
                         "emotions": list(fex.emotions.columns), "faceboxes": list(fex.faceboxes.columns),
                         "frames": [int(f) for f in fex["frame"]], "sums": [float(v) for v in fex.emotions.sum(1)],
                         "contempt": [float(v) for v in fex["contempt"]]})
print(json.dumps(out))
"""


def test_pyfeat_csv_uses_pyfeats_column_names(clip) -> None:
    _, analysis = clip
    rows = list(csv.DictReader(io.StringIO(pyfeat.pyfeat_csv(analysis, CLIP).decode())))
    header = list(rows[0])
    assert tuple(header) == (*pyfeat.PYFEAT_COLUMNS, *pyfeat.EXTRA_COLUMNS)
    for group in (pyfeat.PYFEAT_FACEBOX_COLUMNS, pyfeat.PYFEAT_EMOTION_COLUMNS, ("frame", "input")):
        assert set(group) <= set(header)
    assert not [c for c in header if "AU" in c], "read_feat takes any column with 'AU' in its name for an AU"
    assert len(rows) == len(analysis.samples)
    tidy_rows = tidy.tidy_rows(analysis, "d6")
    for r, t in zip(rows, tidy_rows):
        assert r["input"] == CLIP and int(r["frame"]) == t["frame"] and int(r["face"]) == t["face"]
        total = sum(float(r[c]) for c in (*pyfeat.PYFEAT_EMOTION_COLUMNS, "contempt"))
        assert total == pytest.approx(1.0, abs=1e-3)
        assert float(r["FaceRectWidth"]) == pytest.approx(t["w"], abs=0.51)


def test_pyfeat_read_feat_loads_our_files_as_fex(clip, faceless, tmp_path: Path) -> None:
    python = _pyfeat_python()
    _, analysis = clip
    full, empty = tmp_path / "full.csv", tmp_path / "empty.csv"
    full.write_bytes(pyfeat.pyfeat_csv(analysis, CLIP))
    empty.write_bytes(pyfeat.pyfeat_csv(faceless[1], "wall.mp4"))
    done = subprocess.run([python, "-c", READ_FEAT, str(full), str(empty)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert tuple(found["emotion_columns"]) == pyfeat.PYFEAT_EMOTION_COLUMNS, f"py-feat {found['version']}"
    assert tuple(found["facebox_columns"]) == pyfeat.PYFEAT_FACEBOX_COLUMNS
    assert found["time_columns"] == ["frame"]
    fex, none = found["files"]
    assert fex["type"] == "Fex" and fex["rows"] == len(analysis.samples)
    assert tuple(fex["emotions"]) == pyfeat.PYFEAT_EMOTION_COLUMNS and fex["aus"] == []
    assert tuple(fex["faceboxes"]) == pyfeat.PYFEAT_FACEBOX_COLUMNS
    assert fex["frames"] == [r["frame"] for r in tidy.tidy_rows(analysis, "d6")]
    assert np.allclose(np.array(fex["sums"]) + np.array(fex["contempt"]), 1.0, atol=1e-3)
    assert none["type"] == "Fex" and none["rows"] == 0


def test_pyfeat_csv_without_faces_is_the_header(faceless) -> None:
    data = pyfeat.pyfeat_csv(faceless[1], "wall.mp4").decode()
    assert data.splitlines() == [",".join((*pyfeat.PYFEAT_COLUMNS, *pyfeat.EXTRA_COLUMNS))]


# ---- ELAN ---------------------------------------------------------------------------------------------------

def _eaf(data: bytes, tmp_path: Path) -> Eaf:
    path = tmp_path / "annotations.eaf"
    path.write_bytes(data)
    return Eaf(str(path))


def test_eaf_has_a_tier_of_segments_and_one_of_moments_per_face(clip, tmp_path: Path) -> None:
    _, analysis = clip
    eaf = _eaf(elan.elan_eaf(analysis, CLIP), tmp_path)
    media = eaf.media_descriptors
    assert len(media) == 1 and media[0]["MEDIA_URL"].endswith(CLIP) and media[0]["MIME_TYPE"] == "video/mp4"
    expected = {f"Face {k}" for k in analysis.tracks} | {f"Face {k} key moments" for k in analysis.tracks}
    assert set(eaf.get_tier_names()) == expected
    end_ms = round(min(analysis.duration_s, analysis.info.duration_s) * 1000)
    allowed = {*analysis.labels, *(f"{c} (unsure)" for c in analysis.labels)}
    for k in analysis.tracks:
        segments = sorted(eaf.get_annotation_data_for_tier(f"Face {k}"))
        assert segments, f"Face {k} has no segments"
        for (s0, e0, *_), (s1, *_) in zip(segments, segments[1:]):
            assert e0 <= s1, "segments of one face must not overlap"
        assert all(0 <= s < e <= end_ms for s, e, *_ in segments)
        assert all(v in allowed for _, _, v, *_ in segments)
        assert all(a[2] != b[2] or a[1] < b[0] for a, b in zip(segments, segments[1:])), "equal neighbours merged"
        times, probs, _ = analysis.arrays(k)
        unsure = uncertain_mask(probs)
        for t, p, u in zip(times, probs, unsure):  # every sample lies in a segment carrying its reading
            ms = round(t * 1000)
            value = [v for s, e, v, *_ in segments if s <= ms < e]
            assert value == [analysis.labels[int(p.argmax())] + (" (unsure)" if u else "")], f"at {t:.2f} s"
        moments = sorted(eaf.get_annotation_data_for_tier(f"Face {k} key moments"))
        titles = [m.title for m in analysis.moments if m.track == k]
        assert [v for *_, v in moments] == titles
        assert all(0 <= s < e <= end_ms for s, e, _ in moments)


def test_eaf_without_faces_still_reads_back(faceless, tmp_path: Path) -> None:
    eaf = _eaf(elan.elan_eaf(faceless[1], "wall.mp4"), tmp_path)
    assert list(eaf.get_tier_names()) == [] and eaf.media_descriptors[0]["MEDIA_URL"] == "wall.mp4"


# ---- the printable report -----------------------------------------------------------------------------------

class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict] = []
        self._time: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "figure":
            self._time = a.get("data-time-s")
        elif tag == "img":
            self.images.append(dict(a, time=self._time))

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._time = None


def _decode(src: str) -> np.ndarray:
    head, data = src.split(",", 1)
    assert head in ("data:image/jpeg;base64", "data:image/png;base64")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))


def _detail(rgb: np.ndarray) -> float:
    """Median brightness spread in 3x3 windows: fine texture (skin, eyes) scores ~1.5-2.5 on these faces, the
    flat blocks of a pixelated face ~0 (the block edges are too few to move the median)."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)
    mean, mean_sq = cv2.blur(grey, (3, 3)), cv2.blur(grey ** 2, (3, 3))
    return float(np.median(np.sqrt(np.maximum(mean_sq - mean ** 2, 0.0))))


@pytest.fixture(scope="module")
def report(clip, recognizer: Recognizer) -> str:
    path, analysis = clip
    return clip_report.clip_report_html(str(path), analysis, CLIP, recognizer.loaded.card).decode("utf-8")


def test_report_has_a_described_picture_per_moment_the_timelines_and_the_notice(clip, report: str,
                                                                               recognizer: Recognizer) -> None:
    _, analysis = clip
    assert report.startswith("<!DOCTYPE html>") and report.rstrip().endswith("</html>")
    parser = _Images()
    parser.feed(report)
    thumbs = [i for i in parser.images if i["time"] is not None]
    chosen = clip_report.chosen_moments(analysis)
    assert 0 < len(thumbs) == len(chosen) <= clip_report.MAX_THUMBS
    assert [float(i["time"]) for i in thumbs] == pytest.approx([t for t, _ in chosen])
    assert all(i.get("alt", "").strip() for i in parser.images), "every picture needs alt text"
    plots = [i for i in parser.images if i.get("class") == "plot"]
    assert len(plots) == len(analysis.tracks)
    assert html_report.NOTICE_TITLE in report and "Article 5(1)(f)" in report
    assert "emotion" not in report.lower(), "the report speaks of facial expressions, never emotions"
    assert CLIP in report and f"{recognizer.loaded.card['metrics_test']['accuracy']:.0%}" in report
    for k in analysis.tracks:
        assert f"<td>Face {k}</td>" in report and f"<td>{analysis.summaries[k].dominant}</td>" in report
    assert "@page" in report and "A4" in report


def test_report_pictures_show_no_unblurred_face(clip, report: str) -> None:
    """Each thumbnail, inside every face box, must look like the pixelated frame and not like the real one:
    far less fine detail than the same spot of the un-blurred frame, and closer to the pixelated version."""
    path, analysis = clip
    parser = _Images()
    parser.feed(report)
    checked = 0
    for image in (i for i in parser.images if i["time"] is not None):
        thumb = _decode(image["src"])
        t = float(image["time"])
        frame = frame_at(str(path), t)
        size = (thumb.shape[1], thumb.shape[0])
        k = thumb.shape[1] / frame.rgb.shape[1]
        faces = [s for s in analysis.samples if abs(s.t - t) < 1e-6]
        assert faces, f"a key moment at {t} s without a face"
        plain = cv2.resize(frame.rgb, size, interpolation=cv2.INTER_AREA)
        pixelated = cv2.resize(blur_faces(frame.rgb, [tuple(v / frame.scale for v in s.box) for s in faces]), size,
                               interpolation=cv2.INTER_AREA)
        for s in faces:
            x, y, w, h = (v * k / frame.scale for v in s.box)
            x0, y0, x1, y1 = (int(round(v)) for v in (x + 0.2 * w, y + 0.2 * h, x + 0.8 * w, y + 0.8 * h))
            inner = np.s_[y0:y1, x0:x1]
            assert _detail(plain[inner]) > 0.5, "the un-blurred face should show texture"
            assert _detail(thumb[inner]) < 0.25 * _detail(plain[inner]), f"face {s.track} at {t} s looks sharp"
            to_plain = np.abs(thumb[inner].astype(float) - plain[inner]).mean()
            to_pixelated = np.abs(thumb[inner].astype(float) - pixelated[inner]).mean()
            assert to_pixelated < 0.25 * to_plain, f"face {s.track} at {t} s resembles the un-blurred frame"
            checked += 1
    assert checked


def test_report_without_faces_says_so(faceless) -> None:
    path, analysis = faceless
    page = clip_report.clip_report_html(str(path), analysis, "wall.mp4", {}).decode("utf-8")
    parser = _Images()
    parser.feed(page)
    assert page.startswith("<!DOCTYPE html>") and "No face was found" in page
    assert parser.images == [] and html_report.NOTICE_TITLE in page and "wall.mp4" in page


def test_html_blocks_refuse_pictures_without_alt_and_tolerate_thin_cards(recognizer: Recognizer) -> None:
    png = cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))[1].tobytes()
    with pytest.raises(ValueError):
        html_report.img_tag(png, "  ")
    assert html_report.img_tag(png, 'a "quoted" alt').startswith('<img src="data:image/png;base64,')
    assert "unknown" in html_report.card_summary_html({}) and "Accuracy" not in html_report.card_summary_html({})
    card = recognizer.loaded.card
    full = html_report.card_summary_html(card)
    assert card["name"] in full and "Accuracy" in full


# ---- group summary ------------------------------------------------------------------------------------------

def _shifted(analysis: VideoAnalysis, by: float) -> VideoAnalysis:
    """The same readings later in a clip, so that they straddle a minute boundary."""
    samples = [dataclasses.replace(s, t=s.t + by) for s in analysis.samples]
    return dataclasses.replace(analysis, samples=samples, frame_times=analysis.frame_times + by,
                               duration_s=analysis.duration_s + by)


def _check_shares(row: dict) -> None:
    shares = [row[k] for k in row if k.startswith("expr_")]
    for v in [*shares, row["unsure_share"], row["facing_share"]]:
        assert v is None or 0.0 <= v <= 1.0
    if row["samples"]:
        assert sum(shares) == pytest.approx(1.0, abs=1e-3)
    else:
        assert all(v is None for v in shares)


def test_group_rows_per_minute_and_per_clip_add_up(clip) -> None:
    _, analysis = clip
    late = _shifted(analysis, 60.0 - MAX_S / 2)
    minutes = group_summary.minute_rows(late, "d6")
    whole = group_summary.clip_row(late, "d6")
    assert json.loads(json.dumps([whole, *minutes])) == [whole, *minutes], "rows must survive minutes.json"
    assert [m["minute"] for m in minutes] == [0, 1]
    assert [m["frames"] for m in minutes] == [int((late.frame_times < 60).sum()), int((late.frame_times >= 60).sum())]
    assert sum(m["samples"] for m in minutes) == whole["samples"] == len(analysis.samples)
    assert whole["minute"] == "all" and whole["faces"] == len(analysis.tracks)
    assert whole["faces_in_view"] == pytest.approx(len(analysis.samples) / len(analysis.frame_times), abs=1e-4)
    for row in [whole, *minutes]:
        _check_shares(row)
    summary = analysis.summaries[1]  # the project's own per-face summary agrees on a one-face clip
    for c, share in summary.expression_share.items():
        assert whole[f"expr_{c}"] == pytest.approx(share, abs=1e-4)
    assert whole["unsure_share"] == pytest.approx(summary.uncertain_share, abs=1e-4)
    if summary.facing_share is None:
        assert whole["facing_share"] is None
    else:
        assert whole["facing_share"] == pytest.approx(summary.facing_share, abs=1e-4)


def test_summary_csv_and_html_show_every_clip(clip, faceless) -> None:
    rows = [group_summary.clip_row(clip[1], "d6"), *group_summary.minute_rows(clip[1], "d6"),
            group_summary.clip_row(faceless[1], "wall"), *group_summary.minute_rows(faceless[1], "wall")]
    table = list(csv.DictReader(io.StringIO(group_summary.summary_csv(rows).decode())))
    assert tuple(table[0]) == group_summary.SUMMARY_COLUMNS and len(table) == len(rows)
    assert [r["clip_id"] for r in table] == [r["clip_id"] for r in rows]
    page = group_summary.summary_html(rows).decode()
    assert page.startswith("<!DOCTYPE html>") and html_report.NOTICE_TITLE in page
    assert "no identity features" in page and "d6, minute by minute" in page and "wall" in page
    assert page.count("<table>") == 1 + 2, "one table of clips, one of minutes per clip"
    assert "emotion" not in page.lower()
    assert html_report.NOTICE_TITLE not in group_summary.summary_html(rows, notice=False).decode()


def test_group_rows_without_faces(faceless) -> None:
    _, analysis = faceless
    whole = group_summary.clip_row(analysis, "wall")
    minutes = group_summary.minute_rows(analysis, "wall")
    assert json.loads(json.dumps([whole, *minutes])) == [whole, *minutes]
    assert whole["samples"] == 0 and whole["faces"] == 0 and whole["faces_in_view"] == 0.0
    assert whole["frames"] == len(analysis.frame_times) == sum(m["frames"] for m in minutes)
    assert math.isclose(whole["duration_s"], analysis.duration_s, abs_tol=1e-3)
    for row in [whole, *minutes]:
        _check_shares(row)
    assert "No clip" in group_summary.summary_html([]).decode()
    assert group_summary.summary_csv([]).decode().strip() == ",".join(group_summary.SUMMARY_COLUMNS)
