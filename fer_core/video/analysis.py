"""Facial expressions over time in a recorded clip: decode -> detect -> track -> classify in batches ->
smooth -> per-face timelines, summaries and key moments.

`analyze_video` streams the clip (`fer_core.video.decode.iter_frames`), so memory stays flat however long it is:
only the per-face numbers are kept (under 1 kB per face per sample), never frames. Faces get
anonymous, stable names ("Face 1", "Face 2") from `tracking.FaceTracker`; a face that leaves the picture
for more than `max_gap_s` comes back as a new face, since nothing identifies people.

The pictures for a moment (its frame, the aligned crops, heatmaps) are fetched again on demand with
`moment_faces`, which re-decodes just that frame.
"""
from __future__ import annotations

import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import takewhile
from typing import Callable, Iterable

import numpy as np

from fer_core.detection.align import CROP_SIZE, align_face
from fer_core.detection.head_pose import head_pose, mesh_head_pose
from fer_core.detection.movements import measure
from fer_core.recognizer import FaceResult, Recognizer
from fer_core.video.decode import (
    ANALYSIS_MAX_SIDE,
    Frame,
    VideoError,
    VideoInfo,
    VideoSource,
    frame_at,
    iter_frames,
    probe,
)
from fer_core.video.defaults import DEFAULT_FPS, SMOOTH_HALF_LIFE_S  # noqa: F401 - part of this interface
from fer_core.video.summary import KeyMoment, TrackSummary, key_moments, summarise
from fer_core.video.tracking import FaceTracker, ProbabilitySmoother

MAX_FPS = 30.0
BATCH_FACES = 48  # crops classified together (a few frames' worth): batching is ~4x faster per face
MIN_TRACK_SAMPLES = 3  # tracks seen fewer times are left out as passing false detections ...
MIN_TRACK_S = 0.5  # ... unless they last at least this long

ProgressFn = Callable[[float, float], None]  # (seconds of clip analysed, clip duration or 0 if unknown)

__all__ = ["Moment", "VideoAnalysis", "VideoAnalyzer", "VideoError", "analyze_video", "moment_faces"]


@dataclass
class FaceSample:
    """One face in one sampled frame. Boxes and landmarks are in the clip's (upright) pixels."""

    t: float
    track: int
    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray | None
    raw: np.ndarray  # (C,) this frame's probabilities
    probs: np.ndarray = field(default=None)  # (C,) smoothed over time: what timelines and labels use
    yaw: float | None = None
    pitch: float | None = None
    turn: float | None = None
    movements: dict[str, float] | None = None  # facial movements from the mesh (detection.movements), or None


@dataclass
class VideoAnalysis:
    """Everything one clip gave: per-face samples, summaries and key moments; no pixels."""

    labels: tuple[str, ...]
    fps: float
    duration_s: float  # analysed span: last sampled time + one sampling step
    frame_times: np.ndarray  # every sampled time, with or without faces
    samples: list[FaceSample]
    summaries: dict[int, TrackSummary]
    moments: list[KeyMoment]
    info: VideoInfo | None = None
    elapsed_s: float = 0.0
    dropped_tracks: int = 0  # brief detections left out (fewer than MIN_TRACK_SAMPLES and MIN_TRACK_S)
    brief: list[FaceSample] = field(default_factory=list)  # their samples (original ids), still blurred when sharing
    settings: dict = field(default_factory=dict)
    stage_s: dict = field(default_factory=dict)  # seconds spent detecting and classifying
    cut_short: bool = False  # only the first part of a long clip was analysed

    @property
    def tracks(self) -> list[int]:
        return sorted(self.summaries)

    @property
    def realtime_factor(self) -> float:
        return self.duration_s / self.elapsed_s if self.elapsed_s else 0.0

    def track_samples(self, track: int) -> list[FaceSample]:
        return [s for s in self.samples if s.track == track]

    def arrays(self, track: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(times (N,), smoothed probs (N, C), raw probs (N, C)) of one face."""
        ss = self.track_samples(track)
        if not ss:
            c = len(self.labels)
            return np.zeros(0), np.zeros((0, c)), np.zeros((0, c))
        return (np.array([s.t for s in ss]), np.stack([s.probs for s in ss]), np.stack([s.raw for s in ss]))

    def samples_at(self, t: float) -> list[FaceSample]:
        """The faces of the sampled frame nearest to `t`."""
        if len(self.frame_times) == 0:
            return []
        nearest = float(self.frame_times[np.abs(self.frame_times - t).argmin()])
        return [s for s in self.samples if abs(s.t - nearest) < 1e-6]

    def nearest_time(self, t: float) -> float:
        return float(self.frame_times[np.abs(self.frame_times - t).argmin()]) if len(self.frame_times) else 0.0


@dataclass
class _Looked:
    t: float
    faces: list  # (box, score, landmarks (clip pixels), HeadPose | None, aligned crop, movements | None)
    seconds: float


class VideoAnalyzer:
    """Feeds sampled frames through detect -> track -> batched classify -> smooth. One per clip (or per
    looped run in the benchmark); `finish` returns the `VideoAnalysis`."""

    def __init__(self, recognizer: Recognizer, fps: float = DEFAULT_FPS, max_gap_s: float = 1.0,
                 smooth_half_life_s: float = SMOOTH_HALF_LIFE_S, batch_faces: int = BATCH_FACES) -> None:
        self.recognizer = recognizer
        self.fps = fps
        self.tracker = FaceTracker(iou_threshold=0.3, max_gap_s=max_gap_s)
        self.smoother = ProbabilitySmoother(half_life_s=smooth_half_life_s, max_gap_s=max_gap_s)
        self.batch_faces = batch_faces
        self.samples: list[FaceSample] = []
        self.frame_times: list[float] = []
        self._pending: list[tuple[FaceSample, np.ndarray]] = []  # waiting for classification, in time order
        self._started = time.perf_counter()
        self.stage_s = {"detect": 0.0, "classify": 0.0}  # where the time goes (for the benchmark)

    def look(self, frame: Frame) -> "_Looked":
        """Detect, align and measure head pose in one frame. Thread-safe (no tracker state), so `analyze_frames`
        runs it for several frames at once on a many-core machine."""
        start = time.perf_counter()
        detections = self.recognizer.detect(frame.rgb)
        meshes = self.recognizer.fit_meshes(frame.rgb, detections)
        s = frame.scale
        size = (round(frame.rgb.shape[1] * s), round(frame.rgb.shape[0] * s))
        faces = []
        for d, mesh in zip(detections, meshes):
            five = d.landmarks if mesh is None else mesh.five_landmarks()
            crop = align_face(frame.rgb, d.box, five, CROP_SIZE)
            landmarks = None if five is None else (five * s).astype(np.float32)
            if mesh is None:
                pose, moves = head_pose(landmarks, size), None
            else:
                pose, moves = mesh_head_pose(mesh.points * s, size), measure(mesh.points)
            faces.append((tuple(float(v) * s for v in d.box), float(d.score), landmarks, pose, crop, moves))
        return _Looked(frame.t, faces, time.perf_counter() - start)

    def add(self, looked: "_Looked") -> None:
        """Track the faces of one looked-at frame (frames must come in time order); classify full batches."""
        self.frame_times.append(looked.t)
        self.stage_s["detect"] += looked.seconds
        boxes = np.array([f[0] for f in looked.faces], dtype=np.float64).reshape(-1, 4)
        ids = self.tracker.update(boxes, looked.t)
        for (box, score, landmarks, pose, crop, moves), tid in zip(looked.faces, ids):
            sample = FaceSample(looked.t, tid, box, score, landmarks, raw=None, yaw=pose and pose.yaw,
                                pitch=pose and pose.pitch, turn=pose and pose.turn, movements=moves)
            self._pending.append((sample, crop))
        if len(self._pending) >= self.batch_faces:
            self._flush()

    def feed(self, frame: Frame) -> None:
        """`look` then `add`, for one sampled frame."""
        self.add(self.look(frame))

    def _flush(self) -> None:
        if not self._pending:
            return
        start = time.perf_counter()
        probs = self.recognizer.classify_crops(np.stack([c for _, c in self._pending]))
        self.stage_s["classify"] += time.perf_counter() - start
        for (sample, _), p in zip(self._pending, probs):
            sample.raw = p.astype(np.float32)
            sample.probs = self.smoother.update(sample.track, p, sample.t)
            self.samples.append(sample)
        self._pending.clear()

    def finish(self, info: VideoInfo | None = None) -> VideoAnalysis:
        self._flush()
        labels = tuple(self.recognizer.labels)
        step = 1.0 / self.fps
        times = np.array(self.frame_times, dtype=np.float64)
        duration = float(times[-1] + step) if len(times) else 0.0
        if info and info.duration_s:  # the last sample stands for the rest of the clip, not a full step
            duration = max(min(duration, info.duration_s), float(times[-1]) if len(times) else 0.0)
        samples, brief = _renumber(self.samples, step)
        summaries, moments = {}, []
        by_track: dict[int, list[FaceSample]] = {}
        for s in samples:
            by_track.setdefault(s.track, []).append(s)
        for tid, ss in by_track.items():
            t = np.array([s.t for s in ss])
            p = np.stack([s.probs for s in ss])
            facing = np.array([np.nan if s.turn is None else float(s.turn <= 30.0) for s in ss])
            summaries[tid] = summarise(tid, t, p, facing, labels, duration, step)
            moments += key_moments(tid, t, p, labels)
        return VideoAnalysis(labels=labels, fps=self.fps, duration_s=duration, frame_times=times, samples=samples,
                             summaries=summaries, moments=sorted(moments, key=lambda m: (m.t, m.track)),
                             info=info, elapsed_s=time.perf_counter() - self._started,
                             dropped_tracks=len({s.track for s in brief}), brief=[*brief],
                             settings={"fps": self.fps, "detector": getattr(self.recognizer.detector, "name", "?"),
                                       "model": getattr(self.recognizer.loaded, "name", "?"),
                                       "smoothing_half_life_s": self.smoother.half_life_s,
                                       "max_gap_s": self.tracker.max_gap_s},
                             stage_s=dict(self.stage_s))


def _renumber(samples: list[FaceSample], step: float) -> tuple[list[FaceSample], list[FaceSample]]:
    """Set brief tracks (passing false detections) apart and renumber the rest 1, 2, ... by first sighting.
    Returns (kept samples, brief samples with their original track ids)."""
    seen: dict[int, list[FaceSample]] = {}
    for s in samples:
        seen.setdefault(s.track, []).append(s)
    keep = [tid for tid, ss in seen.items()
            if len(ss) >= MIN_TRACK_SAMPLES or (ss[-1].t - ss[0].t + step) >= MIN_TRACK_S]
    keep.sort(key=lambda tid: seen[tid][0].t)
    new_id = {old: i for i, old in enumerate(keep, 1)}
    kept = [s for s in samples if s.track in new_id]
    brief = [s for s in samples if s.track not in new_id]
    for s in kept:
        s.track = new_id[s.track]
    return kept, brief


def check_fps(fps: float) -> float:
    if not (0 < fps <= MAX_FPS):
        raise ValueError(f"the sampling rate must be between 0 and {MAX_FPS:g} frames per second")
    return float(fps)


def analyze_frames(recognizer: Recognizer, frames: Iterable[Frame], fps: float = DEFAULT_FPS,
                   info: VideoInfo | None = None, progress: ProgressFn | None = None, workers: int = 1,
                   **options) -> VideoAnalysis:
    """`VideoAnalyzer` over any stream of sampled frames (a decoded clip, a looped clip, test frames).

    With `workers` > 1, that many frames are looked at (detect, align) at once in threads (torch releases
    the GIL), while decoding, tracking and classifying stay in this thread and in time order; at most
    2 x workers frames are in flight, so memory stays flat. Use one torch thread per worker.
    """
    analyzer = VideoAnalyzer(recognizer, fps=check_fps(fps), **options)
    total = info.duration_s if info else 0.0

    def done(looked: _Looked) -> None:
        analyzer.add(looked)
        if progress:
            progress(looked.t, total)

    if workers <= 1:
        for frame in frames:
            done(analyzer.look(frame))
        return analyzer.finish(info)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fer-video") as pool:
        in_flight: deque[Future] = deque()
        try:
            for frame in frames:
                in_flight.append(pool.submit(analyzer.look, frame))
                if len(in_flight) >= 2 * workers:
                    done(in_flight.popleft().result())
            while in_flight:
                done(in_flight.popleft().result())
        finally:  # stopped early (an error, a page rerun): drop what has not started
            for f in in_flight:
                f.cancel()
    return analyzer.finish(info)


def analyze_video(source: VideoSource, recognizer: Recognizer, fps: float = DEFAULT_FPS,
                  progress: ProgressFn | None = None, max_side: int = ANALYSIS_MAX_SIDE,
                  max_s: float | None = None, **options) -> VideoAnalysis:
    """Analyse a clip (path, bytes or file-like object; nothing is written to disk), or its first `max_s`
    seconds (`VideoAnalysis.cut_short` then says so).

    Raises `VideoError` (a ValueError) with a plain-words message for files that cannot be analysed.
    """
    fps = check_fps(fps)
    info = probe(source)
    frames = iter_frames(source, fps=fps, max_side=max_side)
    if max_s:
        frames = takewhile(lambda f: f.t < max_s, frames)
    result = analyze_frames(recognizer, frames, fps, info, progress, **options)
    result.cut_short = bool(max_s and info.duration_s > max_s + 1.0 / fps)
    if progress:
        progress(result.duration_s, result.duration_s)
    return result


@dataclass
class Moment:
    """One sampled frame fetched again: its pixels and, per face, the sample and a `FaceResult` (boxes and
    landmarks in the frame's pixels, the aligned crop for heatmaps, the smoothed scores of the timeline)."""

    t: float
    rgb: np.ndarray
    scale: float  # clip pixels per frame pixel
    faces: list[tuple[FaceSample, FaceResult]]

    def face(self, track: int) -> FaceResult | None:
        return next((f for s, f in self.faces if s.track == track), None)


def moment_faces(source: VideoSource, analysis: VideoAnalysis, t: float,
                 max_side: int = ANALYSIS_MAX_SIDE) -> Moment:
    """The sampled frame nearest `t`, decoded again (a seek, tens of ms), with its analysed faces."""
    t = analysis.nearest_time(t)
    frame = frame_at(source, t, max_side=max_side)
    pairs = []
    for s in analysis.samples_at(t):
        k = 1.0 / frame.scale
        box = tuple(v * k for v in s.box)
        landmarks = None if s.landmarks is None else s.landmarks * k
        crop = align_face(frame.rgb, box, landmarks, CROP_SIZE)
        face = FaceResult(box=box, score=s.score, landmarks=landmarks,
                          probs=dict(zip(analysis.labels, map(float, s.probs))), crop=crop)
        pairs.append((s, face))
    return Moment(t, frame.rgb, frame.scale, pairs)
