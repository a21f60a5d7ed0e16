"""The live webcam callback (`fer_core.video.live.LiveProcessor.process`) on real video frames decoded from
../shared/media/videos as av.VideoFrames, plus the Webcam page's pure helpers (ICE servers, the stale-context
guard, the history chart). Speed is measured by `python -m fer_core live-bench`, not here."""
from __future__ import annotations

import threading
from fractions import Fraction
from types import SimpleNamespace

import av
import numpy as np
import pytest

from fer_core.bench.live import webcam_frames
from fer_core.detection.base import Detection
from fer_core.labels import CLASSES
from fer_core.recognizer import Recognizer
from fer_core.video.live import HISTORY_S, LiveProcessor, draw_faces, relative_to_baseline
from tests.conftest import require_shared

FPS = 30


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    import torch

    torch.set_num_threads(1)  # as in the app
    return Recognizer()


@pytest.fixture(scope="module")
def clip() -> list[av.VideoFrame]:
    """The first 2 s of a real one-face clip as a webcam sends it: 640x480 yuv420p av.VideoFrames."""
    return webcam_frames(require_shared("media", "videos", "liveportrait_d3.mp4"), limit=60)


def stamped(frame: av.VideoFrame, i: int, step: Fraction = Fraction(1, FPS)) -> av.VideoFrame:
    """The frame with the i-th timestamp of a stream (time = i * step seconds), as aiortc delivers it."""
    frame.pts, frame.time_base = int(i), step
    return frame


def feed(processor: LiveProcessor, frames: list[av.VideoFrame], start: int = 0,
         step: Fraction = Fraction(1, FPS)) -> list[av.VideoFrame]:
    return [processor.process(stamped(f, start + i, step)) for i, f in enumerate(frames)]


def blank_frames(n: int) -> list[av.VideoFrame]:
    grey = np.full((480, 640, 3), 128, np.uint8)
    return [av.VideoFrame.from_ndarray(grey, format="rgb24").reformat(format="yuv420p") for _ in range(n)]


class CountingDetector:
    """The real detector, counting its calls (or failing on demand)."""

    def __init__(self, inner, fail: bool = False) -> None:
        self.inner, self.calls, self.fail, self.name = inner, 0, fail, inner.name

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        self.calls += 1
        if self.fail:
            raise RuntimeError("detector exploded")
        return self.inner.detect(rgb)


def with_detector(recognizer: Recognizer, detector) -> Recognizer:
    return Recognizer(model=recognizer.loaded, detector=detector)


# ---- the callback on real frames -------------------------------------------------------------------------

def test_callback_returns_annotated_frames_and_publishes_faces(recognizer: Recognizer, clip) -> None:
    processor = LiveProcessor(recognizer)
    frames = clip[:20]
    outs = feed(processor, frames)
    assert all(isinstance(o, av.VideoFrame) and (o.width, o.height) == (640, 480) for o in outs)
    status = processor.status()
    assert status.frames == len(frames)
    assert status.frame_size == (640, 480)
    assert len(status.faces) == 1, "the clip shows exactly one face"
    face = status.faces[0]
    assert face.label in CLASSES and 0 < face.confidence <= 1
    assert np.isclose(face.probs.sum(), 1, atol=1e-4) and np.isclose(face.raw.sum(), 1, atol=1e-4)
    x, y, w, h = face.box
    assert w > 100 and h > 100, "a frontal face filling most of a 640x480 frame"
    # the box was drawn on the returned frame, and only there: the frozen frame stays clean
    drawn, clean = outs[-1].to_ndarray(format="rgb24"), processor.freeze().rgb
    edge = (slice(int(y) + 5, int(y + h) - 5), int(round(x)))
    assert np.abs(drawn[edge].astype(int) - clean[edge].astype(int)).mean() > 20
    assert np.array_equal(clean, frames[-1].to_ndarray(format="rgb24"))
    assert status.delay_ms > 0


def test_arriving_frames_count_as_a_camera_on_before_the_players_state_does(recognizer: Recognizer, clip) -> None:
    from ui.webcam_view import FRESH_S, camera_on

    processor = LiveProcessor(recognizer)
    assert processor.seconds_since_frame() == float("inf") and not camera_on(False, processor)
    feed(processor, clip[:2])
    assert processor.seconds_since_frame() < FRESH_S
    assert camera_on(False, processor), "frames came in: the panel must not say 'Press Start'"
    assert camera_on(True, LiveProcessor(recognizer)), "the player says so: connecting, before the first frame"


def test_one_face_keeps_one_track_id_and_a_history(recognizer: Recognizer, clip) -> None:
    processor = LiveProcessor(recognizer)
    ids = set()
    for i, frame in enumerate(clip[:30]):
        processor.process(stamped(frame, i))
        ids |= {f.track_id for f in processor.status().faces}
    assert ids == {1}
    times, scores = processor.status().history[1]
    assert scores.shape[1] == len(CLASSES) and len(times) == len(scores) >= 10
    assert times[-1] == 0 and times[0] >= -HISTORY_S and np.all(np.diff(times) > 0)


def test_detector_runs_every_kth_frame_and_on_every_frame_without_a_face(recognizer: Recognizer, clip) -> None:
    counting = CountingDetector(recognizer.detector)
    processor = LiveProcessor(with_detector(recognizer, counting), detect_every=3)
    feed(processor, clip[:30])
    assert counting.calls == 10
    counting.calls = 0
    feed(processor, blank_frames(6), start=30)
    assert counting.calls == 6, "with no face in view, every frame should look for one"
    assert processor.status().faces == ()


def test_smoothing_follows_the_raw_scores_with_a_lag(recognizer: Recognizer, clip) -> None:
    smooth, raw = LiveProcessor(recognizer, smoothing=True), LiveProcessor(recognizer, smoothing=False)
    gaps = []
    for i, frame in enumerate(clip[:40]):
        smooth.process(stamped(frame, i))
        raw.process(stamped(frame, i))
        s, r = smooth.status().faces[0], raw.status().faces[0]
        assert np.array_equal(r.probs, r.raw)
        assert np.isclose(s.probs.sum(), 1, atol=1e-4)
        gaps.append(np.abs(s.probs - s.raw).sum())
    assert gaps[0] < 1e-6, "the first frame of a face has nothing to smooth with"
    assert max(gaps[1:]) > 0.01, "a changing face should show smoothed scores that lag the raw ones"
    smooth.set_smoothing(False)
    smooth.process(stamped(clip[40], 40))
    face = smooth.status().faces[0]
    assert np.array_equal(face.probs, face.raw) and not smooth.status().smoothing


def test_a_frame_that_fails_comes_back_unchanged_with_the_reason(recognizer: Recognizer, clip) -> None:
    processor = LiveProcessor(with_detector(recognizer, CountingDetector(recognizer.detector, fail=True)))
    frame = stamped(clip[0], 0)
    assert processor.process(frame) is frame
    assert "detector exploded" in processor.status().error
    assert processor.status().frames == 0


def test_a_restarted_stream_starts_afresh(recognizer: Recognizer, clip) -> None:
    processor = LiveProcessor(recognizer)
    feed(processor, clip[:10], start=1000)
    assert processor.status().faces[0].track_id == 1
    processor.end_stream()
    feed(processor, blank_frames(2), start=0)  # a new stream: its time starts again at 0
    assert processor.status().history == {}
    feed(processor, clip[:10], start=2)
    status = processor.status()
    assert status.faces[0].track_id == 1 and status.frames == 22


def test_history_keeps_only_the_last_seconds(recognizer: Recognizer, clip) -> None:
    processor = LiveProcessor(recognizer, history_s=2.0)
    feed(processor, clip[:40], step=Fraction(1, 10))  # 4 s of stream at 10 fps
    times, _ = processor.status().history[1]
    assert times[0] >= -2.0 and times[-1] == 0 and len(times) <= 21


def test_two_sessions_stream_at_once_on_one_model(recognizer: Recognizer, clip) -> None:
    """Two browser tabs: one processor each, both on the same recognizer, in their own threads."""
    processors = [LiveProcessor(recognizer), LiveProcessor(recognizer)]
    errors: list[BaseException] = []

    cameras = [[av.VideoFrame.from_ndarray(f.to_ndarray(), format="yuv420p") for f in clip[:30]] for _ in range(2)]

    def stream(p: LiveProcessor, frames: list[av.VideoFrame]) -> None:
        try:
            feed(p, frames)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=stream, args=pair) for pair in zip(processors, cameras)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):  # the pages read while the streams run
        for p in processors:
            p.status(), p.freeze(), p.set_smoothing(True)
    for t in threads:
        t.join()
    assert not errors
    for p in processors:
        assert p.status().frames == 30 and len(p.status().faces) == 1 and not p.status().error
    assert processors[0]._recognizer.loaded is processors[1]._recognizer.loaded is recognizer.loaded


# ---- the personal baseline --------------------------------------------------------------------------------

def test_relative_to_baseline_moves_the_resting_look_to_neutral() -> None:
    rest = np.array([0.5, 0.05, 0.05, 0.3, 0.05, 0.02, 0.02, 0.01], np.float32)  # a resting face that reads sad
    at_rest = relative_to_baseline(rest, rest)
    assert at_rest[0] == pytest.approx(1.0) and np.isclose(at_rest.sum(), 1)
    smile = np.array([0.1, 0.75, 0.02, 0.1, 0.01, 0.01, 0.005, 0.005], np.float32)
    rel = relative_to_baseline(smile, rest)
    assert CLASSES[int(rel.argmax())] == "happiness"
    assert rel[1] == pytest.approx(0.70, abs=1e-5) and rel[3] == 0.0 and np.isclose(rel.sum(), 1)


def test_recording_a_baseline_marks_the_face_relative(recognizer: Recognizer, clip) -> None:
    processor = LiveProcessor(recognizer, smoothing=False)
    processor.record_baseline(seconds=0.5)
    feed(processor, clip[:8])
    assert processor.status().baseline.phase == "recording"
    assert 0 < processor.status().baseline.progress < 1
    feed(processor, clip[8:20], start=8)
    status = processor.status()
    assert status.baseline.phase == "ready" and np.isclose(status.baseline.probs.sum(), 1, atol=1e-4)
    face = status.faces[0]
    assert face.relative
    assert np.allclose(face.probs, relative_to_baseline(face.raw, status.baseline.probs), atol=1e-6)
    processor.clear_baseline()
    processor.process(stamped(clip[20], 20))
    assert processor.status().baseline.phase == "none" and not processor.status().faces[0].relative


def test_a_baseline_without_a_face_fails_with_advice(recognizer: Recognizer) -> None:
    processor = LiveProcessor(recognizer)
    processor.record_baseline(seconds=0.2)
    feed(processor, blank_frames(10))
    baseline = processor.status().baseline
    assert baseline.phase == "failed" and "record again" in baseline.message


def test_labels_are_drawn_inside_the_frame_for_a_face_at_the_top() -> None:
    from fer_core.video.live import LiveFace

    rgb = np.zeros((480, 640, 3), np.uint8)
    probs = np.eye(len(CLASSES), dtype=np.float32)[1]
    draw_faces(rgb, (LiveFace(1, (500.0, 0.0, 130.0, 150.0), probs, probs, CLASSES),))
    assert rgb[150:200, 500:640].any(), "the label of a face touching the top edge goes below its box"
    assert rgb[:, 630:].any() and not rgb[200:, :480].any()


def _drawn_texts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every label text the stream draws from now on (cv2.putText, wrapped)."""
    import fer_core.video.live as live

    drawn: list[str] = []
    real = live.cv2.putText
    monkeypatch.setattr(live.cv2, "putText", lambda img, text, *a, **k: drawn.append(text) or real(img, text, *a, **k))
    return drawn


def test_the_video_label_shows_the_reading_the_panel_shows(recognizer: Recognizer, clip,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The number on the video is the one the page's panel took with `status()` (twice a second), not each
    frame's own: the two never disagree, as they did when the video ran ahead of the panel."""
    drawn = _drawn_texts(monkeypatch)
    processor = LiveProcessor(recognizer, reading_every_s=3600)  # here only the panel renews the reading
    feed(processor, clip[:10])
    panel = processor.status().faces[0]  # what the panel shows now
    drawn.clear()
    own = set()
    for i, frame in enumerate(clip[10:45], 10):  # the face's smoothed scores move on meanwhile
        processor.process(stamped(frame, i))
        face = processor._faces[0]  # the stream's latest face (private: the page only sees status() copies)
        own.add(f"Face {face.track_id}: {face.label} {face.confidence:.0%}")
    assert set(drawn) == {panel.reading_text}, "the video must show the panel's number"
    assert own - {panel.reading_text}, "the clip's scores should have moved on, or this test proves nothing"
    later = processor.status().faces[0]
    drawn.clear()
    processor.process(stamped(clip[45], 45))
    assert drawn == [later.reading_text], "a new reading by the panel shows on the next frame"


def test_without_a_panel_the_video_label_renews_itself(recognizer: Recognizer, clip,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = _drawn_texts(monkeypatch)
    processor = LiveProcessor(recognizer, reading_every_s=0.0)  # renew on every frame while nobody reads
    own = []
    for i, frame in enumerate(clip[:20]):
        processor.process(stamped(frame, i))
        face = processor._faces[0]
        own.append(f"Face {face.track_id}: {face.label} {face.confidence:.0%}")
    assert drawn == own


# ---- page helpers -------------------------------------------------------------------------------------------

def test_ice_servers_default_to_none_and_read_json() -> None:
    from ui.webcam_view import ice_servers

    assert ice_servers("") == ([], None)
    stun = [{"urls": ["stun:stun.example.org:3478"]}]
    assert ice_servers('[{"urls": ["stun:stun.example.org:3478"]}]') == (stun, None)
    turn = {"iceServers": [{"urls": "turn:turn.example.org", "username": "u", "credential": "c"}]}
    assert ice_servers(__import__("json").dumps(turn)) == (turn["iceServers"], None)
    servers, problem = ice_servers("stun:stun.example.org")
    assert servers == [] and "not valid JSON" in problem
    servers, problem = ice_servers('[{"url": "stun:x"}]')
    assert servers == [] and '"urls"' in problem


def test_stale_context_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    """streamlit-webrtc's stale check is switched off only while the player's own widget value shows it was
    drawn in the last run; after a real page change (value gone) the library may reset the stream."""
    from streamlit_webrtc.component import generate_frontend_component_key

    from ui import webcam_view

    context = SimpleNamespace(_last_rendered_run_count=7)
    state = {"k": context, generate_frontend_component_key("k"): {"playing": True, "sdpOffer": {}}}
    monkeypatch.setattr(webcam_view, "st", SimpleNamespace(session_state=state))
    assert webcam_view.keep_live_context("k") and context._last_rendered_run_count is None
    context._last_rendered_run_count = 7
    del state[generate_frontend_component_key("k")]
    assert not webcam_view.keep_live_context("k") and context._last_rendered_run_count == 7
    assert not webcam_view.keep_live_context("missing")


def test_history_figure_has_a_line_per_expression_in_its_colour() -> None:
    from fer_core.labels import hex_color
    from ui.webcam_view import history_figure

    times = np.linspace(-5, 0, 20)
    scores = np.random.default_rng(0).dirichlet(np.ones(len(CLASSES)), 20)
    fig = history_figure(times, scores, CLASSES, "Face 1")
    assert [t.name for t in fig.data] == list(CLASSES)
    assert [t.line.color for t in fig.data] == [hex_color(c) for c in CLASSES]
    assert tuple(fig.layout.xaxis.range) == (-HISTORY_S, 0)


# ---- a class session's gate and pace (ui/classroom.py sets them) ---------------------------------------------

def test_a_gated_stream_shows_the_reason_and_analyses_nothing(recognizer: Recognizer, clip) -> None:
    counting = CountingDetector(recognizer.detector)
    processor = LiveProcessor(with_detector(recognizer, counting))
    processor.set_gate(lambda: "Three webcams are live already. Please wait a little.")
    out = feed(processor, clip[:3])
    assert counting.calls == 0 and processor.status().frames == 0
    shown = out[0].to_ndarray(format="rgb24").astype(int)
    camera = clip[0].to_ndarray(format="rgb24").astype(int)
    assert shown.mean() < camera.mean() * 0.6, "the frame is darkened under the notice"
    assert (shown > 200).any(), "the notice is written in white"
    processor.set_gate(lambda: None)  # a slot came free
    feed(processor, clip[3:6], start=3)
    assert counting.calls > 0 and processor.status().frames == 3


def test_a_paced_stream_analyses_fewer_frames_and_keeps_its_boxes(recognizer: Recognizer, clip) -> None:
    counting = CountingDetector(recognizer.detector)
    processor = LiveProcessor(with_detector(recognizer, counting), detect_every=1)
    processor.set_gate(lambda: None, lambda: 3600.0)  # after the first frame, none is due for an hour
    out = feed(processor, clip[:10])
    assert processor.status().frames == 1 and counting.calls == 1
    later = out[5].to_ndarray(format="rgb24").astype(int)
    camera = clip[5].to_ndarray(format="rgb24").astype(int)
    assert np.abs(later - camera).max() > 100, "the held frames carry the last boxes"
    processor.set_gate(lambda: None, lambda: 0.0)
    feed(processor, clip[10:12], start=10)
    assert processor.status().frames == 3
