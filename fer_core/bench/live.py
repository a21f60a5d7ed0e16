"""Benchmark of the live webcam path: real video frames through the very callback the Webcam page uses.

    python -m fer_core live-bench [--json] [--minutes 10] [--video clip.mp4] [--detect-every 2]

A clip from ../shared/media/videos is decoded once, letterboxed to 640x480 and converted to yuv420p (what
a browser's WebRTC stream delivers), then fed as `av.VideoFrame`s with 30 fps timestamps, looping, to
`LiveProcessor.process` for `--minutes` of stream time (10 minutes = 18000 frames). Frames go in back to
back, so "processed fps" is the most the callback can keep up with on this machine; a camera sends 30.
"Added delay" is the time a frame spends in the callback: with streamlit-webrtc's async processing, an
annotated frame reaches the browser that much later than the camera frame. Memory is the process's
resident set size after a 10 s warm-up and at the end (sampled every stream minute), while the page's reads
(`status()` twice a second, `freeze()` now and then) are simulated too.
"""
from __future__ import annotations

import os
import resource
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from fer_core.detection.registry import DEFAULT_DETECTOR, detector_info
from fer_core.imageio import letterbox
from fer_core.paths import shared_dir
from fer_core.video.live import DETECT_EVERY, LiveProcessor, freeze_heap

FPS = 30
TARGET_FPS = 25.0
TARGET_DELAY_MS = 60.0
WARMUP_FRAMES = 300  # 10 s of stream: every code path and buffer (history, stats) has reached its size
DEFAULT_VIDEO = "liveportrait_d3.mp4"


def default_video() -> Path:
    return shared_dir() / "media" / "videos" / DEFAULT_VIDEO


def webcam_frames(path: Path, size: tuple[int, int] = (640, 480), limit: int = 600) -> list[av.VideoFrame]:
    """Up to `limit` frames of a clip as a webcam would send them: `size`, letterboxed, yuv420p."""
    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            rgb, _ = letterbox(frame.to_ndarray(format="rgb24"), size)
            frames.append(av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p"))
            if len(frames) >= limit:
                break
    if not frames:
        raise ValueError(f"no video frames in {path}")
    return frames


def rss_mb() -> float:
    """Current resident set size in MB (Linux /proc); elsewhere the peak, which can only overstate growth."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def run_live_bench(minutes: float = 10.0, video: Path | None = None, threads: int = 1,
                   detector: str = DEFAULT_DETECTOR, detect_every: int = DETECT_EVERY,
                   model: str | None = None, progress: bool = False) -> dict[str, Any]:
    import torch

    from fer_core.recognizer import Recognizer

    torch.set_num_threads(threads)
    video = video or default_video()
    if not video.exists():
        raise FileNotFoundError(f"{video} is missing (set FER_LENS_SHARED to the shared folder, or pass --video)")
    clip = webcam_frames(video)
    detector = detector_info(detector).stream_name  # what the Webcam page streams with when this one is chosen
    recognizer = Recognizer(model, detector=detector)
    processor = LiveProcessor(recognizer, detect_every=detect_every)
    freeze_heap()  # as the Webcam page does once the model is loaded
    total = max(1, round(minutes * 60 * FPS))
    time_base = Fraction(1, FPS)

    def feed(i: int) -> float:
        frame = clip[i % len(clip)]
        frame.pts, frame.time_base = i, time_base
        start = time.perf_counter()
        out = processor.process(frame)
        ms = (time.perf_counter() - start) * 1000
        assert isinstance(out, av.VideoFrame)
        if i % (FPS // 2) == 0:  # what the page reads while streaming
            processor.status()
        if i % (FPS * 10) == 0:
            processor.freeze()
        return ms

    for i in range(WARMUP_FRAMES):
        feed(i)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    rss_start = rss_mb()
    rss_samples = [round(rss_start, 1)]
    ms = np.empty(total)
    faces = sampled = 0
    minute_ms: list[float] = []  # mean delay per stream minute: shows other load on the machine coming and going
    wall = time.perf_counter()
    for k in range(total):
        ms[k] = feed(WARMUP_FRAMES + k)
        if k % FPS == 0:
            sampled += 1
            faces += bool(processor.status().faces)
        if (k + 1) % (FPS * 60) == 0:
            rss_samples.append(round(rss_mb(), 1))
            minute_ms.append(round(float(ms[k + 1 - FPS * 60: k + 1].mean()), 1))
            if progress:
                print(f"  {(k + 1) / (FPS * 60):.0f} min of frames, {np.mean(ms[:k + 1]):.1f} ms/frame, "
                      f"RSS {rss_samples[-1]:.0f} MB", file=sys.stderr)
    wall = time.perf_counter() - wall
    rss_end = rss_mb()
    status = processor.status()
    fps = total / wall
    p95 = float(np.percentile(ms, 95))
    return {
        "video": video.name, "frame_size": [640, 480], "frames": total, "stream_minutes": round(total / FPS / 60, 2),
        "threads": threads, "detector": detector, "detect_every": detect_every, "smoothing": status.smoothing,
        "model": recognizer.name,
        "processed_fps": round(fps, 1), "delay_ms_mean": round(float(ms.mean()), 2),
        "delay_ms_p50": round(float(np.median(ms)), 2), "delay_ms_p95": round(p95, 2),
        "delay_ms_max": round(float(ms.max()), 2), "delay_ms_mean_per_minute": minute_ms,
        "faces_seen_share": round(faces / max(1, sampled), 3),
        "rss_mb_start": round(rss_start, 1), "rss_mb_end": round(rss_end, 1),
        "rss_growth_mb": round(rss_end - rss_start, 1), "rss_mb_per_minute": rss_samples,
        "rss_growth_mb_after_minute_1": round(rss_end - rss_samples[1], 1) if len(rss_samples) > 1 else None,
        "loadavg_1min_at_start": round(load, 2) if load is not None else None,
        "targets": {"processed_fps": TARGET_FPS, "delay_ms_p95": TARGET_DELAY_MS},
        "meets_targets": fps >= TARGET_FPS and p95 <= TARGET_DELAY_MS,
    }


def format_report(r: dict[str, Any]) -> str:
    ok = "meets" if r["meets_targets"] else "MISSES"
    later = r["rss_growth_mb_after_minute_1"]
    after = f", {later:+.1f} MB after the first minute" if later is not None else ""
    return "\n".join([
        f"live-bench: {r['frames']} frames ({r['stream_minutes']} min at {FPS} fps) of {r['video']}, "
        f"{r['frame_size'][0]}x{r['frame_size'][1]}, detector {r['detector']} every {r['detect_every']} "
        f"frame(s), torch threads {r['threads']}, smoothing {'on' if r['smoothing'] else 'off'}",
        f"processed: {r['processed_fps']:.1f} fps (frames fed back to back; target >= {TARGET_FPS:.0f})",
        f"added delay per frame: mean {r['delay_ms_mean']:.1f} ms, p50 {r['delay_ms_p50']:.1f}, "
        f"p95 {r['delay_ms_p95']:.1f}, max {r['delay_ms_max']:.1f} (target p95 <= {TARGET_DELAY_MS:.0f}); "
        f"mean per stream minute: {r['delay_ms_mean_per_minute']}",
        f"a face in {r['faces_seen_share']:.0%} of the sampled frames",
        f"memory (RSS): {r['rss_mb_start']:.0f} MB after warm-up -> {r['rss_mb_end']:.0f} MB at the end "
        f"({r['rss_growth_mb']:+.1f} MB{after}); per stream minute: {r['rss_mb_per_minute']}",
        f"load average at start: {r['loadavg_1min_at_start']}  =>  {ok} the targets",
    ])
