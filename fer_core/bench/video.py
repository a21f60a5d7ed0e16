"""`video-bench`: is clip analysis fast and lean enough on this machine? Analyses a shared clip looped to a
target length (10 minutes by default) and reports the realtime factor and the process's peak memory.

The loop re-opens the decoder for every pass (`iter_frames(..., t_offset=...)`), so no frame is ever held
beyond the one being analysed, exactly as for one long clip. Targets (issue #7): >= 8x realtime for a
480p 30 fps clip sampled at 5 fps, and < 1.5 GB peak memory for 10 minutes, on 2 cores.
"""
from __future__ import annotations

import os
import resource
import time
from pathlib import Path
from typing import Any, Iterator

import torch

from fer_core.paths import shared_dir
from fer_core.video.analysis import DEFAULT_FPS, analyze_frames
from fer_core.video.decode import Frame, iter_frames, probe

TARGET_REALTIME = 8.0
TARGET_PEAK_MB = 1536.0


def default_clip() -> Path:
    return shared_dir() / "media" / "videos" / "liveportrait_d6.mp4"


def peak_rss_mb() -> float:
    """Highest resident memory of this process so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def looped_frames(clip: Path, seconds: float, fps: float, clip_s: float) -> Iterator[Frame]:
    """Sampled frames of `clip` played again and again until `seconds` are covered, re-decoding each pass."""
    offset = 0.0
    while offset < seconds:
        for frame in iter_frames(clip, fps=fps, t_offset=offset):
            if frame.t >= seconds:
                return
            yield frame
        offset += clip_s


def run_video_bench(clip: str | Path | None = None, minutes: float = 10.0, fps: float = DEFAULT_FPS,
                    threads: int | None = 2, detector: str | None = None, model: str | None = None,
                    show_progress: bool = True) -> dict[str, Any]:
    from fer_core.detection.registry import DEFAULT_DETECTOR
    from fer_core.recognizer import Recognizer

    workers = max(1, threads or 1)
    torch.set_num_threads(1)  # parallel over frames instead: one torch thread per worker scales better here
    clip = Path(clip) if clip else default_clip()
    info = probe(clip)
    rec = Recognizer(model, detector=detector or DEFAULT_DETECTOR)
    rss_loaded = current_rss_mb()
    seconds = minutes * 60
    frames = looped_frames(clip, seconds, fps, info.duration_s)
    bar = None
    if show_progress:
        from tqdm import tqdm

        bar = tqdm(total=round(seconds), unit="s", desc="video-bench", leave=False)
    done = [0]

    def progress(t: float, _total: float) -> None:
        if bar is not None and int(t) > done[0]:
            bar.update(int(t) - done[0])
            done[0] = int(t)

    start = time.perf_counter()
    result = analyze_frames(rec, frames, fps=fps, progress=progress, workers=workers)
    wall = time.perf_counter() - start
    if bar is not None:
        bar.close()
    n_frames, n_faces = len(result.frame_times), len(result.samples) + len(result.brief)
    return {
        "clip": clip.name, "clip_size": f"{info.width}x{info.height}", "clip_fps": round(info.fps, 2),
        "clip_duration_s": round(info.duration_s, 2), "analysed_s": round(result.duration_s, 1),
        "sample_fps": fps, "threads": workers, "detector": result.settings["detector"],
        "wall_s": round(wall, 1), "realtime_factor": round(result.duration_s / wall, 2),
        "sampled_frames": n_frames, "faces": n_faces, "tracks": len(result.tracks),
        "ms_per_sampled_frame": round(wall / max(n_frames, 1) * 1000, 2),
        "detect_ms_per_frame": round(result.stage_s["detect"] / max(n_frames, 1) * 1000, 2),
        "classify_ms_per_face": round(result.stage_s["classify"] / max(n_faces, 1) * 1000, 2),
        "rss_after_load_mb": round(rss_loaded, 1), "rss_end_mb": round(current_rss_mb(), 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "targets": {"realtime_factor": TARGET_REALTIME, "peak_rss_mb": TARGET_PEAK_MB},
        "meets_targets": bool(result.duration_s / wall >= TARGET_REALTIME and peak_rss_mb() < TARGET_PEAK_MB),
    }
