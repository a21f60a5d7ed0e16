"""Live camera frames -> annotated frames, plus what the page shows beside them (scores over time, speed).

One `LiveProcessor` per browser session and stream; every session shares one `Recognizer` (and so one
model). `LiveProcessor.process` is the `video_frame_callback` of streamlit-webrtc and the function the live
benchmark times: av.VideoFrame in, av.VideoFrame out. It runs on the stream's worker thread and never
touches Streamlit.

Speed (2 cores, one torch thread): the face detector (~11 ms per 640x480 frame) runs on every
`detect_every`-th frame, and on every frame while no face is in view; frames in between reuse the last
boxes (at 30 fps a face moves a few pixels per frame). Each face is classified on every frame in one
pass, without the mirrored second pass of the Photo page, which would double the cost; optional
smoothing over time does that job better for a stream. A snapshot gets the full Photo-page analysis.

The reading on the video and the one in the page's panel are one number: the label drawn on the video is
the reading the panel last took (`status()`, twice a second), so both say "happiness 71%" at the same
moment instead of the video running ahead of the panel. When no panel reads for a while, the stream takes a
fresh reading itself every `reading_every_s`.

Threads: the tracker, smoother and last detections belong to the stream's thread alone. Everything the
page sets (smoothing, baseline requests) or reads (`status()`, `freeze()`) goes through one lock, and the
page only ever receives copies. Nothing is written to disk: the only frame kept is the latest one, for
"freeze", and the scores of the last `history_s` seconds.
"""
from __future__ import annotations

import gc
import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Callable

import av
import cv2
import numpy as np

from fer_core.detection.base import Detection
from fer_core.detection.face_mesh import Mesh
from fer_core.labels import COLORS_RGB
from fer_core.recognizer import Recognizer
from fer_core.video.tracking import FaceTracker, ProbabilitySmoother

DETECT_EVERY = 2  # run the face detector on every 2nd frame (boxes are at most one frame old)
MAX_FACES = 8  # the largest faces of a frame; bounds the time per frame in a crowded room
HISTORY_S = 10.0  # the live chart's window
HISTORY_HZ = 15.0  # chart points per second and face (the stream itself runs at up to 30)
BASELINE_S = 3.0  # seconds of resting face to record
BASELINE_MIN_FRAMES = 5  # fewer frames with a face than this and the recording failed
NEW_STREAM_GAP_S = 5.0  # a longer pause (or time going back) means a new stream: tracks start afresh
STATS_WINDOW_S = 2.0  # fps and delay are measured over the last 2 s
READING_EVERY_S = 0.5  # the page's panel reads twice a second; the label on the video holds that reading

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveFace:
    """One face in one frame, as shown: `probs` are smoothed and/or measured from the baseline when those
    are on; `raw` is this frame's single-pass output."""

    track_id: int
    box: tuple[float, float, float, float]  # x, y, w, h in frame pixels
    probs: np.ndarray
    raw: np.ndarray
    labels: tuple[str, ...]
    relative: bool = False  # probs measured from the recorded resting face
    held: np.ndarray | None = None  # the reading shown, on the video and in the panel alike (see the module doc)

    @property
    def label(self) -> str:
        return self.labels[int(np.argmax(self.probs))]

    @property
    def reading(self) -> tuple[str, float]:
        """(expression, score) as shown to the visitor: the held reading, else this frame's (smoothed) one."""
        p = self.probs if self.held is None else self.held
        k = int(np.argmax(p))
        return self.labels[k], float(p[k])

    @property
    def reading_text(self) -> str:
        """"Face 1: happiness 71%": the words on the video's label and in the panel's heading."""
        label, score = self.reading
        return f"Face {self.track_id}: {label} {score:.0%}"

    @property
    def confidence(self) -> float:
        return float(np.max(self.probs))

    @property
    def area(self) -> float:
        return self.box[2] * self.box[3]


@dataclass(frozen=True)
class BaselineState:
    """The personal baseline as the page shows it: "none", "recording" (with progress), "ready", "failed"."""

    phase: str = "none"
    progress: float = 0.0
    probs: np.ndarray | None = None
    message: str = ""


@dataclass(frozen=True)
class LiveStatus:
    """A consistent copy of what the stream did lately, for the page."""

    frames: int  # frames processed since this processor was made
    fps: float  # frames processed per second over the last STATS_WINDOW_S
    delay_ms: float  # mean time a frame spends in `process`, over the same window
    delay_p95_ms: float
    faces: tuple[LiveFace, ...]  # in the latest frame
    history: dict[int, tuple[np.ndarray, np.ndarray]]  # track id -> (seconds before now (n,), scores (n, C))
    labels: tuple[str, ...]
    smoothing: bool
    baseline: BaselineState
    last_frame_age_s: float  # wall-clock seconds since the last frame (inf before the first)
    frame_size: tuple[int, int] | None  # width, height of the latest frame
    error: str = ""  # why the latest frame could not be analysed, if it could not
    refused: str = ""  # why the stream's frames are not analysed now (a class session's gate), if they are not


@dataclass(frozen=True)
class Snapshot:
    """A frozen frame with the detections it was analysed with (the page explains it off the stream)."""

    rgb: np.ndarray
    detections: tuple[Detection, ...]


def freeze_heap() -> None:
    """Take every object alive now out of the garbage collector's full sweeps, once, after start-up.

    With torch, Streamlit and plotly loaded the heap holds ~600k objects, and a full collection walks them
    all while holding the GIL: ~300 ms on a 2-core machine. A WebRTC stream allocates fast enough to set
    one off every few seconds, and each one freezes the video. Start-up objects (modules, the model) live
    for the whole process anyway, so they need no collecting; later objects are still collected."""
    gc.collect()
    gc.freeze()


def relative_to_baseline(probs: np.ndarray, baseline: np.ndarray, neutral: int = 0) -> np.ndarray:
    """Scores measured from a resting face: each expression keeps only what it scores *above* the resting
    face's score for it, and everything else counts as neutral. A face at rest so reads neutral even when
    it naturally looks a little sad or stern; a smile still reads as happiness. The result sums to 1."""
    above = np.clip(np.asarray(probs, np.float64) - baseline, 0.0, None)
    above[neutral] = 0.0
    out = above
    out[neutral] = max(0.0, 1.0 - above.sum())
    return out.astype(np.float32)


def draw_faces(rgb: np.ndarray, faces: tuple[LiveFace, ...]) -> None:
    """Boxes and "Face 1: happiness 82%" labels on the frame, in place, coloured by expression."""
    h, w = rgb.shape[:2]
    scale = max(h, w) / 640  # shown at about half a screen wide: text must stay readable there
    thick, font, weight = max(2, round(3 * scale)), 0.8 * max(scale, 0.6), max(1, round(2 * scale))
    for face in faces:
        x, y, bw, bh = (int(round(v)) for v in face.box)
        colour = COLORS_RGB.get(face.reading[0], (255, 255, 255))
        cv2.rectangle(rgb, (x, y), (x + bw, y + bh), colour, thick)
        text = face.reading_text + (" *" if face.relative else "")
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font, weight)
        lh = th + base + 8
        top = y - lh if y - lh >= 0 else min(y + bh, h - lh)  # above the box, else below it
        left = min(max(0, x - thick // 2), max(0, w - tw - 6))
        cv2.rectangle(rgb, (left, top), (left + tw + 6, top + lh), colour, -1)
        cv2.putText(rgb, text, (left + 3, top + lh - base - 4), cv2.FONT_HERSHEY_SIMPLEX, font, (0, 0, 0), weight,
                    cv2.LINE_AA)


@dataclass
class _Recording:
    """A baseline being recorded. Made by the page, then filled in by the stream thread alone."""

    seconds: float
    start_t: float | None = None
    samples: list[np.ndarray] = field(default_factory=list)

    def add(self, faces: tuple[LiveFace, ...], t: float) -> float:
        """Keep the raw scores of the person's (largest) face; the share of the recording done."""
        if self.start_t is None:
            self.start_t = t
        if faces:
            self.samples.append(max(faces, key=lambda f: f.area).raw)
        return min(max((t - self.start_t) / self.seconds, 0.0), 1.0) if self.seconds > 0 else 1.0


class LiveProcessor:
    """Turns a stream of camera frames into annotated frames and a rolling record of the scores."""

    def __init__(self, recognizer: Recognizer, detect_every: int = DETECT_EVERY, smoothing: bool = True,
                 history_s: float = HISTORY_S, max_faces: int = MAX_FACES, half_life_s: float = 0.4,
                 reading_every_s: float = READING_EVERY_S) -> None:
        if detect_every < 1:
            raise ValueError("detect_every must be at least 1")
        self.detect_every = detect_every
        self.history_s = history_s
        self.max_faces = max_faces
        self.reading_every_s = reading_every_s
        self._lock = threading.Lock()  # guards every field below that the page reads or sets
        self._frame_lock = threading.Lock()  # one frame at a time, even while an old stream winds down
        self._recognizer = self._live_copy(recognizer)
        self._smoothing = smoothing
        self._baseline: np.ndarray | None = None
        self._baseline_msg = ""
        self._recording: _Recording | None = None
        self._recording_done = 0.0
        self._frames = 0
        self._error = ""
        self._faces: tuple[LiveFace, ...] = ()
        self._history: dict[int, deque] = {}
        self._stats: deque = deque()  # (wall time, ms in process)
        self._last_wall = -math.inf
        self._latest: Snapshot | None = None
        self._size: tuple[int, int] | None = None
        self._readings: dict[int, np.ndarray] = {}  # track id -> the reading shown (set by `status()`)
        self._read_wall = -math.inf  # when the page last took a reading
        self._self_read_wall = -math.inf  # when the stream last took one itself, for want of a reader
        # the stream thread's own state: never read by the page
        self._tracker = FaceTracker(max_gap_s=2.0)
        self._smoother = ProbabilitySmoother(half_life_s=half_life_s, max_gap_s=2.0)
        self._dets: list[Detection] = []
        self._ids: list[int] = []
        self._smoothed: set[int] = set()
        self._since_detect = 0
        self._last_t: float | None = None
        self._gate: Callable[[], str | None] | None = None
        self._refused = ""
        self._min_interval: Callable[[], float] | None = None
        self._last_analysed = -math.inf  # the stream thread's own: when it last analysed a frame...
        self._last_drawn: tuple[LiveFace, ...] | None = None  # ...and the faces it drew on it

    @staticmethod
    def _live_copy(recognizer: Recognizer) -> Recognizer:
        """A one-pass recognizer over the same model and detector objects (nothing is loaded again)."""
        return Recognizer(model=recognizer.loaded, detector=recognizer.detector, flip_tta=False,
                          max_faces=recognizer.max_faces)

    # ---- settings, from the page ------------------------------------------------------------------------

    @property
    def labels(self) -> tuple[str, ...]:
        with self._lock:
            return self._recognizer.labels

    @property
    def model_name(self) -> str:
        """The model the stream is scored with (the int8 twin when the fast engine is on)."""
        with self._lock:
            return self._recognizer.name

    def use(self, recognizer: Recognizer) -> None:
        """Switch model or detector (the sidebar changed); takes effect from the next frame."""
        with self._lock:
            if recognizer.loaded is not self._recognizer.loaded or recognizer.detector is not self._recognizer.detector:
                self._recognizer = self._live_copy(recognizer)

    def set_gate(self, gate: Callable[[], str | None] | None,
                 min_interval: Callable[[], float] | None = None) -> None:
        """A check run on each frame before any analysis (a class session's stream cap, or its end): None lets
        the frame through; a short reason is written on the video instead, and the frame is not analysed.
        `min_interval()`: seconds to leave between analysed frames (a pupil's stream while the teacher's is
        live); a frame that comes sooner is shown with the last boxes, at the cost of drawing them."""
        with self._lock:
            self._gate, self._min_interval = gate, min_interval

    def set_smoothing(self, on: bool) -> None:
        with self._lock:
            self._smoothing = bool(on)

    def record_baseline(self, seconds: float = BASELINE_S) -> None:
        """Start recording the resting face from the next frame on; replaces any earlier baseline."""
        with self._lock:
            self._recording = _Recording(seconds)
            self._recording_done = 0.0
            self._baseline = None
            self._baseline_msg = ""

    def clear_baseline(self) -> None:
        with self._lock:
            self._recording, self._baseline, self._baseline_msg = None, None, ""

    # ---- reading, from the page -------------------------------------------------------------------------

    def seconds_since_frame(self) -> float:
        """Wall-clock seconds since the last frame came in (inf before the first): the camera is on while frames
        keep coming, whatever the player's state says yet."""
        with self._lock:
            return time.monotonic() - self._last_wall

    def freeze(self) -> Snapshot | None:
        """The latest frame and its detections, or None before the first frame."""
        with self._lock:
            return self._latest

    def status(self) -> LiveStatus:
        """A copy for the page. Its faces' readings become the ones the video's labels show from the next
        frame on, so the panel drawn from this copy and the video agree."""
        now = time.monotonic()
        with self._lock:
            stats = [(w, ms) for w, ms in self._stats if now - w <= STATS_WINDOW_S]
            history = {tid: list(points) for tid, points in self._history.items()}
            self._faces = tuple(replace(f, held=f.probs) for f in self._faces)
            self._readings.update({f.track_id: f.probs for f in self._faces})
            self._read_wall = now
            faces, frames, smoothing, size = self._faces, self._frames, self._smoothing, self._size
            baseline = self._baseline_state()
            last_wall, labels, error, refused = self._last_wall, self._recognizer.labels, self._error, self._refused
        fps = (len(stats) - 1) / (stats[-1][0] - stats[0][0]) if len(stats) > 2 and stats[-1][0] > stats[0][0] else 0.0
        ms = np.array([m for _, m in stats]) if stats else np.zeros(0)
        latest = max((pts[-1][0] for pts in history.values() if pts), default=0.0)
        series = {tid: (np.array([t - latest for t, _ in pts]), np.stack([p for _, p in pts]))
                  for tid, pts in history.items() if pts}
        return LiveStatus(frames=frames, fps=fps, delay_ms=float(ms.mean()) if len(ms) else 0.0,
                          delay_p95_ms=float(np.percentile(ms, 95)) if len(ms) else 0.0, faces=faces,
                          history=series, labels=labels, smoothing=smoothing, baseline=baseline,
                          last_frame_age_s=now - last_wall, frame_size=size, error=error, refused=refused)

    def _baseline_state(self) -> BaselineState:
        """Call with the lock held."""
        if self._recording is not None:
            return BaselineState("recording", self._recording_done)
        if self._baseline is not None:
            return BaselineState("ready", 1.0, self._baseline.copy())
        return BaselineState("failed", 0.0, None, self._baseline_msg) if self._baseline_msg else BaselineState()

    # ---- the stream ---------------------------------------------------------------------------------------

    def process(self, frame: av.VideoFrame) -> av.VideoFrame:
        """The video_frame_callback: detect, classify, draw; publish the scores. A frame that cannot be
        analysed goes back unchanged, with the reason on the page: raising would end the whole stream."""
        start = time.perf_counter()
        with self._lock:
            gate, min_interval = self._gate, self._min_interval
        reason = gate() if gate is not None else None
        with self._lock:
            self._refused = reason or ""
        if reason is not None:  # the page sees `status().refused` and takes the player away
            return _with_notice(frame, reason)
        if (min_interval is not None and self._last_drawn is not None
                and start - self._last_analysed < min_interval()):
            shown = frame.to_ndarray(format="rgb24")
            draw_faces(shown, self._last_drawn)
            return av.VideoFrame.from_ndarray(shown, format="rgb24")
        with self._frame_lock:
            try:
                out = self._process(frame, start)
            except Exception as exc:  # noqa: BLE001 - one bad frame must not stop the camera
                log.exception("live frame failed")
                with self._lock:
                    self._error = f"{type(exc).__name__}: {exc}"
                return frame
        return out

    def _process(self, frame: av.VideoFrame, start: float) -> av.VideoFrame:
        rgb = frame.to_ndarray(format="rgb24")
        t = float(frame.time) if frame.time is not None else time.monotonic()
        with self._lock:
            recognizer, smoothing, baseline = self._recognizer, self._smoothing, self._baseline
            recording = self._recording
        if self._last_t is not None and (t < self._last_t or t - self._last_t > NEW_STREAM_GAP_S):
            self._new_stream()
        self._last_t = t
        dets, fresh = self._detections(recognizer, rgb, t)
        # The mesh runs with the detector (every `detect_every` frames); in between, its landmarks from the last
        # fresh frame align the reused boxes, as the boxes themselves are reused: the same framing, half the cost.
        raw = recognizer.analyze_rgb(rgb, dets, mesh=fresh) if dets else []
        if fresh and raw:
            self._dets = [replace(d, landmarks=Mesh(f.mesh, 1.0).five_landmarks()) if f.mesh is not None else d
                          for d, f in zip(dets, raw)]
        faces = self._hold(self._faces_for(raw, recognizer.labels, t, smoothing, baseline))
        if recording is not None:
            self._record(recording, faces, t)
        shown = rgb.copy()  # the clean frame is kept for "freeze"
        draw_faces(shown, faces)
        self._last_analysed, self._last_drawn = start, faces
        out = av.VideoFrame.from_ndarray(shown, format="rgb24")
        self._publish(faces, t, Snapshot(rgb, tuple(dets)), start)
        return out

    def _hold(self, faces: tuple[LiveFace, ...]) -> tuple[LiveFace, ...]:
        """The faces with the reading to show: the one the page last took, a new face's own at once, and a
        fresh one every `reading_every_s` while no page reads."""
        wall = time.monotonic()
        with self._lock:
            if (wall - self._read_wall > 2 * self.reading_every_s
                    and wall - self._self_read_wall >= self.reading_every_s):
                self._readings = {f.track_id: f.probs for f in faces}
                self._self_read_wall = wall
            readings = {f.track_id: self._readings.get(f.track_id, f.probs) for f in faces}
            self._readings = readings  # faces out of view are forgotten
        return tuple(replace(f, held=readings[f.track_id]) for f in faces)

    def end_stream(self) -> None:
        """on_video_ended: the camera stopped; the next frame starts a new stream (new face numbers)."""
        with self._frame_lock:
            self._new_stream()
            self._last_t = None

    def _new_stream(self) -> None:
        self._tracker.reset()
        self._smoother.reset()
        self._smoothed.clear()
        self._dets, self._ids, self._since_detect = [], [], 0
        with self._lock:
            self._history.clear()
            self._faces = ()
            self._readings = {}

    def _detections(self, recognizer: Recognizer, rgb: np.ndarray, t: float) -> tuple[list[Detection], bool]:
        """Fresh detections every `detect_every` frames (and on every frame while none are in view),
        the previous ones otherwise, and whether they are fresh; updates the track ids when they are."""
        if self._dets and self._since_detect < self.detect_every - 1:
            self._since_detect += 1
            return self._dets, False
        dets = sorted(recognizer.detect(rgb), key=lambda d: -d.box[2] * d.box[3])[: self.max_faces]
        self._ids = self._tracker.update(np.array([d.box for d in dets]).reshape(-1, 4), t)
        for gone in self._smoothed - set(self._tracker.active_ids):  # keeps the smoother's memory bounded
            self._smoother.forget(gone)
            self._smoothed.discard(gone)
        self._dets, self._since_detect = dets, 0
        return dets, True

    def _faces_for(self, raw, labels: tuple[str, ...], t: float, smoothing: bool,
                   baseline: np.ndarray | None) -> tuple[LiveFace, ...]:
        faces = []
        person = max(range(len(raw)), key=lambda i: raw[i].box[2] * raw[i].box[3]) if raw else -1
        for i, (result, tid) in enumerate(zip(raw, self._ids)):
            p = np.fromiter(result.probs.values(), np.float32, len(labels))
            if smoothing:
                shown = self._smoother.update(tid, p, t)
                self._smoothed.add(tid)
            else:
                shown = p
            relative = baseline is not None and i == person
            if relative:
                shown = relative_to_baseline(shown, baseline, labels.index("neutral") if "neutral" in labels else 0)
            faces.append(LiveFace(tid, result.box, shown, p, labels, relative))
        return tuple(faces)

    def _record(self, recording: _Recording, faces: tuple[LiveFace, ...], t: float) -> None:
        """Add this frame to the baseline recording; turn it into the baseline after `seconds` of stream."""
        done = recording.add(faces, t)
        with self._lock:
            if self._recording is not recording:  # cleared or restarted meanwhile
                return
            self._recording_done = done
            if done < 1.0:
                return
            self._recording = None
            if len(recording.samples) >= BASELINE_MIN_FRAMES:
                self._baseline = np.mean(recording.samples, axis=0).astype(np.float32)
            else:
                self._baseline_msg = ("No face was seen for long enough. Face the camera, in good light, "
                                      "and record again.")

    def _publish(self, faces: tuple[LiveFace, ...], t: float, latest: Snapshot, start: float) -> None:
        wall = time.monotonic()
        with self._lock:
            self._frames += 1
            self._error = ""
            self._faces = faces
            self._latest = latest
            self._size = (latest.rgb.shape[1], latest.rgb.shape[0])
            for face in faces:
                points = self._history.setdefault(face.track_id, deque())
                if not points or t - points[-1][0] >= 1.0 / HISTORY_HZ:
                    points.append((t, face.probs))
            for tid in list(self._history):
                points = self._history[tid]
                while points and t - points[0][0] > self.history_s:
                    points.popleft()
                if not points:
                    del self._history[tid]
            self._stats.append((wall, (time.perf_counter() - start) * 1000))
            while self._stats and wall - self._stats[0][0] > STATS_WINDOW_S:
                self._stats.popleft()
            self._last_wall = wall


def _with_notice(frame: av.VideoFrame, reason: str) -> av.VideoFrame:
    """The camera frame, darkened, with `reason` written across it (wrapped to the frame's width)."""
    rgb = (frame.to_ndarray(format="rgb24") * 0.35).astype(np.uint8)
    h, w = rgb.shape[:2]
    scale = max(0.5, w / 900)
    words, lines, line = reason.split(), [], ""
    for word in words:
        trial = f"{line} {word}".strip()
        if cv2.getTextSize(trial, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)[0][0] > w * 0.9 and line:
            lines.append(line)
            line = word
        else:
            line = trial
    lines.append(line)
    step = int(40 * scale)
    y = max(step, h // 2 - step * (len(lines) - 1) // 2)
    for text in lines:
        cv2.putText(rgb, text, (int(w * 0.05), y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 2, cv2.LINE_AA)
        y += step
    return av.VideoFrame.from_ndarray(rgb, format="rgb24")
