"""Clip analysis on the shared videos and on clips made here with PyAV: one track per single-face clip, a
timeline that covers the clip at the sampling rate, the CSV/JSON schemas, rotation and variable frame
rates, bad files ending in a `VideoError`, the face-blurred copy, the command line, and the Video page."""
from __future__ import annotations

import csv
import io
import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from fer_core.cli.main import main
from fer_core.detection.movements import MOVEMENTS
from fer_core.labels import CLASSES
from fer_core.recognizer import Recognizer
from fer_core.video import decode as video_decode
from fer_core.video.analysis import VideoError, analyze_video, moment_faces
from fer_core.video.decode import frame_at, iter_frames, probe
from fer_core.video.export import (
    blur_faces,
    shareable_clip,
    timeline_columns,
    timeline_csv,
    timeline_document,
    timeline_json,
)
from tests.app.app_support import model_env
from tests.conftest import REPO, require_shared

CLIPS = ["liveportrait_d3.mp4", "liveportrait_d6.mp4", "liveportrait_d18.mp4"]
FPS = 5.0

pytestmark = pytest.mark.filterwarnings("ignore:Setting backward hooks on ReLU")


# ---- clips made at test time ---------------------------------------------------------------------------------

def pattern(i: int, w: int = 64, h: int = 48) -> np.ndarray:
    """A frame whose top-left corner is red and whose brightness encodes i (so frames can be told apart)."""
    rgb = np.full((h, w, 3), (i * 9) % 200 + 30, np.uint8)
    rgb[: h // 3, : w // 3] = (255, 0, 0)
    return rgb


def make_clip(path: Path, times: list[float], fmt: str | None = None, rotation: int | None = None,
              size: tuple[int, int] = (64, 48), codec: str = "libx264", audio: bool = False) -> Path:
    """Encode frames shown at the given times (seconds) with PyAV; optional display rotation."""
    w, h = size
    with av.open(str(path), mode="w", format=fmt) as out:
        stream = out.add_stream(codec, rate=30)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.time_base = Fraction(1, 1000)
        if rotation is not None:
            stream.set_display_rotation(rotation)
        out.start_encoding()  # writes the header even when there are no frames
        for i, t in enumerate(times):
            frame = av.VideoFrame.from_ndarray(pattern(i, w, h), format="rgb24")
            frame.pts, frame.time_base = int(round(t * 1000)), Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def make_audio_only(path: Path) -> Path:
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("aac", rate=44100)
        samples = np.zeros((1, 1024), np.float32)
        for i in range(20):
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, i * 1024
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


# ---- the shared clips ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    env = model_env()
    return Recognizer(env.get("FER_LENS_MODEL"))


@pytest.fixture(scope="module")
def analysed(recognizer: Recognizer) -> dict:
    """Each shared clip analysed once at FPS, with 2 workers as on the page."""
    found = {}
    for name in CLIPS:
        path = require_shared("media", "videos", name)
        found[name] = (path, analyze_video(path, recognizer, fps=FPS, workers=2))
    return found


@pytest.mark.parametrize("name", CLIPS)
def test_single_face_clip_gives_one_track_over_the_whole_clip(analysed: dict, name: str) -> None:
    path, result = analysed[name]
    info = probe(path)
    assert result.tracks == [1], f"{name}: one person on screen should be one face, got {result.tracks}"
    times = result.frame_times
    expected = int(np.ceil(info.duration_s * FPS - 1e-6))
    assert abs(len(times) - expected) <= 1, f"{len(times)} samples for {info.duration_s:.1f} s at {FPS} fps"
    assert times[0] == pytest.approx(0.0, abs=1 / info.fps)
    assert info.duration_s - times[-1] <= 1 / FPS + 1 / info.fps
    assert np.median(np.diff(times)) == pytest.approx(1 / FPS, abs=1 / info.fps)
    assert np.all(np.diff(times) > 0)
    summary = result.summaries[1]
    assert summary.visible_share > 0.9, "the face is on screen all the time"
    assert sum(summary.expression_share.values()) == pytest.approx(1.0)
    assert summary.dominant == max(summary.expression_share, key=summary.expression_share.get)
    assert summary.facing_share is not None and 0 <= summary.facing_share <= 1


def test_timeline_rows_are_consistent(analysed: dict) -> None:
    _, result = analysed["liveportrait_d3.mp4"]
    times, probs, raw = result.arrays(1)
    assert probs.shape == raw.shape == (len(times), len(CLASSES))
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-4)
    np.testing.assert_allclose(raw.sum(1), 1, atol=1e-4)
    # smoothing damps the frame-to-frame jumps of the raw scores
    assert np.abs(np.diff(probs, axis=0)).sum() < np.abs(np.diff(raw, axis=0)).sum()
    for m in result.moments:
        assert m.track in result.tracks and 0 <= m.t <= result.duration_s
        assert m.label in CLASSES and m.kind in ("peak", "change")


def test_csv_schema(analysed: dict) -> None:
    _, result = analysed["liveportrait_d18.mp4"]
    text = timeline_csv(result).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    header = text.splitlines()[0].split(",")
    assert header[:7] == ["time_s", "track", "x", "y", "w", "h", "label"]
    assert header == timeline_columns(result.labels) and set(CLASSES) <= set(header)
    assert len(rows) == len(result.samples) == len(result.frame_times)  # one face in every sampled frame
    for row in rows:
        p = np.array([float(row[c]) for c in CLASSES])
        assert p.sum() == pytest.approx(1, abs=2e-3)
        assert row["label"] == CLASSES[int(p.argmax())]
        assert int(row["track"]) == 1 and int(row["w"]) > 0 and int(row["h"]) > 0
    assert [float(r["time_s"]) for r in rows] == sorted(float(r["time_s"]) for r in rows)
    # a compact summary of the mesh per row (the movements), not 468 columns
    movement_columns = [m.key for m in MOVEMENTS]
    assert set(movement_columns) <= set(header) and len(header) < 40
    filled = [r for r in rows if r["mouth_open"] != ""]
    assert len(filled) > 0.9 * len(rows), "a frontal face should get a mesh in nearly every frame"
    assert all(-2 < float(r[c]) < 2 for r in filled for c in movement_columns)


def test_json_schema(analysed: dict) -> None:
    _, result = analysed["liveportrait_d18.mp4"]
    doc = json.loads(timeline_json(result, "clip.mp4"))
    assert {"clip", "settings", "faces", "key_moments", "timeline", "columns", "sampled_times_s"} <= set(doc)
    assert doc["clip"]["name"] == "clip.mp4" and doc["clip"]["width"] == 480
    assert doc["settings"]["fps"] == FPS
    assert [f["name"] for f in doc["faces"]] == ["Face 1"]
    assert set(doc["faces"][0]["expression_share"]) == set(CLASSES)
    assert len(doc["timeline"]) == len(result.samples)
    assert all(list(row) == doc["columns"] for row in doc["timeline"])
    assert doc == json.loads(json.dumps(timeline_document(result, "clip.mp4")))


def test_moment_gives_back_the_analysed_frame(analysed: dict, recognizer: Recognizer) -> None:
    path, result = analysed["liveportrait_d6.mp4"]
    t = result.moments[0].t if result.moments else float(result.frame_times[len(result.frame_times) // 2])
    m = moment_faces(path, result, t)
    assert m.t == pytest.approx(t)
    assert [s.track for s, _ in m.faces] == [1]
    face = m.face(1)
    assert face.crop.shape == (112, 112, 3) and face.label in CLASSES
    # the re-decoded crop is the one the model saw: classifying it again gives that frame's raw scores
    sample = m.faces[0][0]
    np.testing.assert_allclose(recognizer.classify_crops(face.crop[None])[0], sample.raw, atol=0.02)


def test_shareable_clip_blurs_faces_and_plays(analysed: dict) -> None:
    path, result = analysed["liveportrait_d18.mp4"]
    data = shareable_clip(path, result)
    with av.open(io.BytesIO(data)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == len(result.frame_times)
    original = next(iter_frames(path, fps=FPS)).rgb
    x, y, w, h = (int(v) for v in result.samples[0].box)
    face_before = original[y + h // 4: y + 3 * h // 4, x + w // 4: x + 3 * w // 4].astype(float)
    face_after = frames[0][y + h // 4: y + 3 * h // 4, x + w // 4: x + 3 * w // 4].astype(float)
    # pixelation removes the fine detail (edges) of the face
    detail = lambda a: np.abs(np.diff(a, axis=0)).mean() + np.abs(np.diff(a, axis=1)).mean()  # noqa: E731
    assert detail(face_after) < 0.35 * detail(face_before)


def test_blur_faces_leaves_the_rest_alone() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (100, 100, 3), dtype=np.uint8)
    out = blur_faces(img, [(40, 40, 20, 20)], margin=0.0)
    assert np.array_equal(out[:40], img[:40]) and not np.array_equal(out[40:60, 40:60], img[40:60, 40:60])


def test_two_faces_keep_their_ids_through_a_short_gap(tmp_path: Path, recognizer: Recognizer) -> None:
    """Two shared clips side by side; the right face vanishes for 0.4 s (less than max_gap_s)."""
    left = [f.rgb for f in iter_frames(require_shared("media", "videos", "liveportrait_d18.mp4"), fps=10)][:50]
    right = [f.rgb for f in iter_frames(require_shared("media", "videos", "liveportrait_d3.mp4"), fps=10)][:50]
    right = [r[16:496, 16:496] for r in right]  # 512 -> 480, the height of the left clip
    path = tmp_path / "two.mp4"
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 960, 480, "yuv420p"
        for i, (a, b) in enumerate(zip(left, right)):
            if 20 <= i < 24:
                b = np.full_like(b, 128)  # the right person steps out of the picture for 0.4 s
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.hstack([a, b]), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    result = analyze_video(path, recognizer, fps=5)
    assert result.tracks == [1, 2]
    for track in (1, 2):
        xs = [s.box[0] + s.box[2] / 2 for s in result.track_samples(track)]
        assert all(x < 480 for x in xs) or all(x > 480 for x in xs), "each face id stays with one person"
    right_id = next(t for t in (1, 2) if result.track_samples(t)[0].box[0] > 480)
    seen = [s.t for s in result.track_samples(right_id)]
    assert not any(2.0 <= t < 2.4 for t in seen) and seen[-1] > 4.0, "the gap is a gap, then the same face"
    assert result.summaries[right_id].visible_share < result.summaries[3 - right_id].visible_share


# ---- decoding: rotation, variable frame rate, bad files ---------------------------------------------------

def test_display_rotation_is_applied(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "rotated.mp4", [i / 10 for i in range(10)], rotation=90, size=(64, 48))
    info = probe(clip)
    assert (info.width, info.height, info.rotation) == (48, 64, 90)
    frame = next(iter_frames(clip, fps=5))
    assert frame.rgb.shape == (64, 48, 3)
    # the stored frame's red top-left corner, turned 90 degrees counterclockwise, lands bottom-left
    expected = np.rot90(pattern(0), k=1)
    red = (frame.rgb[..., 0] > 180) & (frame.rgb[..., 1] < 80)
    assert red[-8:, :8].mean() > 0.9 and red[:8, -8:].mean() < 0.1
    assert red.mean() == pytest.approx(((expected[..., 0] > 180) & (expected[..., 1] < 80)).mean(), abs=0.05)


def test_variable_frame_rate_is_sampled_by_timestamp(tmp_path: Path) -> None:
    times = [0.0, 0.05, 0.1, 0.7, 0.72, 0.74, 1.5, 1.9, 2.31, 2.4]  # bursts and gaps
    clip = make_clip(tmp_path / "vfr.mkv", times)
    with av.open(str(clip)) as c:
        stored = [f.time for f in c.decode(video=0)]  # as the container keeps them (1/30 s steps)
    assert len(stored) == len(times) and len(set(np.round(np.diff(stored), 3))) > 3, "irregular spacing"
    got = [round(f.t, 3) for f in iter_frames(clip, fps=5)]
    want = []  # the first frame at or after each 0.2 s tick, ticks skipped while there is no frame
    tick = 0.0
    for t in stored:
        if t + 1e-6 >= tick:
            want.append(t)
            tick = (np.floor(t * 5 + 1e-6) + 1) / 5
    assert got == want


def test_sampling_matches_a_plain_full_decode() -> None:
    """The decoder skips frames nothing refers to while no sample is due; what comes out must be exactly
    the frames (times and pixels) that decoding everything and picking by the same rule gives."""
    clip = require_shared("media", "videos", "liveportrait_d3.mp4")
    with av.open(str(clip)) as c:
        picked, tick = [], 0
        for f in c.decode(video=0):
            if f.time + 1e-6 >= tick / FPS:
                picked.append((f.time, f.to_ndarray(format="rgb24")))
                tick = int(np.floor(f.time * FPS + 1e-6)) + 1
    sampled = list(iter_frames(clip, fps=FPS))
    assert [round(f.t, 4) for f in sampled] == [round(t, 4) for t, _ in picked]
    assert all(np.array_equal(f.rgb, rgb) for f, (_, rgb) in zip(sampled, picked))


def test_frame_at_finds_the_sampled_frame(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "steady.mp4", [i / 30 for i in range(90)])
    samples = list(iter_frames(clip, fps=5))
    chosen = samples[7]
    again = frame_at(clip, chosen.t)
    assert again.t == pytest.approx(chosen.t)
    assert np.abs(again.rgb.astype(int) - chosen.rgb).mean() < 1


def test_a_long_side_is_scaled_down_for_analysis(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "wide.mp4", [0, 0.1], size=(1600, 900))
    frame = next(iter_frames(clip, fps=5, max_side=800))
    assert frame.rgb.shape == (450, 800, 3) and frame.scale == pytest.approx(2.0)


@pytest.mark.parametrize("kind, words", [
    ("not a video", "not a video"),
    ("truncated mp4", "incomplete"),
    ("zero frames", "no video frames"),
    ("audio only", "only sound"),
    ("still picture", "still picture"),
    ("empty", "not a video"),
])
def test_bad_files_get_a_clear_message(tmp_path: Path, recognizer: Recognizer, kind: str, words: str) -> None:
    good = make_clip(tmp_path / "good.mp4", [i / 30 for i in range(60)], size=(128, 96))
    if kind == "not a video":
        source = b"%PDF-1.4 this is a document, not a video" * 50
    elif kind == "truncated mp4":
        source = good.read_bytes()[: good.stat().st_size // 2]
    elif kind == "zero frames":
        source = make_clip(tmp_path / "empty.avi", [], fmt="avi", codec="mpeg4")  # AVI keeps an empty track
    elif kind == "audio only":
        source = make_audio_only(tmp_path / "sound.m4a")
    elif kind == "still picture":
        from fer_core.report import png_bytes

        source = png_bytes(np.zeros((40, 40, 3), np.uint8))
    else:
        source = b""
    with pytest.raises(VideoError, match=words) as err:
        analyze_video(source, recognizer)
    assert isinstance(err.value, ValueError)


def test_a_clip_cut_short_keeps_what_was_read(tmp_path: Path, recognizer: Recognizer) -> None:
    times = [i / 30 for i in range(150)]
    clip = make_clip(tmp_path / "stream.mkv", times, fmt="matroska")  # a streaming container: no index at the end
    data = clip.read_bytes()
    full = list(iter_frames(data, fps=5))
    cut = list(iter_frames(data[: len(data) // 2], fps=5))
    assert 0 < len(cut) < len(full)
    result = analyze_video(data[: len(data) // 2], recognizer)
    assert len(result.frame_times) == len(cut) and result.tracks == []


def test_huge_frames_are_refused_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clip = make_clip(tmp_path / "big.mp4", [0, 0.1], size=(320, 240))
    monkeypatch.setattr(video_decode, "MAX_PIXELS", 300 * 200)
    with pytest.raises(VideoError, match="320x240 pixels"):
        probe(clip)


def test_bad_sampling_rates_are_refused(recognizer: Recognizer, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "c.mp4", [0, 0.1])
    for fps in (0, -1, 1000):
        with pytest.raises(ValueError):
            analyze_video(clip, recognizer, fps=fps)


# ---- the command line -----------------------------------------------------------------------------------

def test_cli_writes_csv_and_json(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    clip = require_shared("media", "videos", "liveportrait_d18.mp4")
    out_csv, out_json = tmp_path / "t.csv", tmp_path / "t.json"
    assert main(["video", str(clip), "--fps", "2", "--out", str(out_csv), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "Face 1" in printed and "timeline written" in printed
    rows = list(csv.DictReader(out_csv.open()))
    assert rows and list(rows[0])[:7] == ["time_s", "track", "x", "y", "w", "h", "label"]
    assert set(CLASSES) <= set(rows[0])
    assert np.median(np.diff([float(r["time_s"]) for r in rows])) == pytest.approx(0.5, abs=0.04)
    assert main(["video", str(clip), "--out", str(out_json), "--quiet"]) == 0
    doc = json.loads(out_json.read_text())
    assert doc["faces"][0]["name"] == "Face 1" and len(doc["timeline"]) == len(doc["sampled_times_s"])


def test_cli_bad_file_and_bad_out(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    junk = tmp_path / "notes.mp4"
    junk.write_text("not a video")
    assert main(["video", str(junk), "--quiet"]) == 1
    assert "not a video" in capsys.readouterr().err
    assert main(["video", str(junk), "--out", str(tmp_path / "t.xlsx")]) == 2
    assert ".csv or .json" in capsys.readouterr().err


# ---- the Video page (AppTest) -----------------------------------------------------------------------------

def _texts(at: AppTest) -> str:
    parts = [e.value for kind in ("title", "markdown", "caption", "info", "warning", "error", "success")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts).lower()


def test_video_page_analyses_an_upload_and_survives_a_bad_one(monkeypatch: pytest.MonkeyPatch) -> None:
    clip = require_shared("media", "videos", "liveportrait_d18.mp4").read_bytes()
    for key, value in model_env().items():
        monkeypatch.setenv(key, value)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=300).run()
    at.switch_page("app_pages/video.py").run()
    assert not at.exception
    words = _texts(at)
    assert "article 5(1)(f)" in words and "consent" in words and "not** measure feelings" in words
    at.file_uploader(key="video_upload").set_value(("bad.mp4", b"not a video at all" * 20, "video/mp4")).run()
    assert not at.exception and "could not be analysed" in at.error[0].value
    at.file_uploader(key="video_upload").set_value(("class.mp4", clip, "video/mp4")).run()
    assert not at.exception and not at.error
    words = _texts(at)
    assert "1 face followed" in words and "face 1" in words and "in view" in words
    assert len(at.get("plotly_chart")) == 1, "one timeline for the one face"
    assert at.slider(key="video_t").value == 0.0
    assert any("heatmap" in (img.caption or "") for el in at.get("image") for img in el.proto.imgs)
    assert "how far to trust this map:** " in words, "each heatmap carries its measured trust note"
    labels = [b.label for b in at.get("download_button")]
    assert any("CSV" in label for label in labels) and any("JSON" in label for label in labels)
    jumps = [b for b in at.button if (b.key or "").startswith("moment-")]
    assert jumps, "key moments should be offered"
    jumps[-1].click().run()
    assert not at.exception and at.slider(key="video_t").value > 0
    at.button(key="make-share").click().run()
    assert not at.exception and at.get("video"), "the blurred copy is shown for checking before sharing"
    assert any("blurred copy" in b.label for b in at.get("download_button"))
