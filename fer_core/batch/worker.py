"""One unit of batch work: a clip analysed exactly as the Video page does, turned into its output files.

Each worker process (or Ray actor) loads the model once and reuses it for every clip it is given. The result
travels back to the coordinator as bytes, which alone writes files: a worker on another machine of a Ray
cluster then needs no access to the output folder (it does need the clips, on storage every node sees).
"""
from __future__ import annotations

import json
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from fer_core.batch.inputs import Clip
from fer_core.batch.settings import FORMAT_FILES, MINUTES_FILE, BatchSettings

_lock = threading.Lock()
_recognizers: dict[tuple[str | None, str], Any] = {}


@dataclass
class ClipOutcome:
    """What one clip gave: its index row, and its output files (name -> bytes) when it worked."""

    clip: Clip
    status: str  # "done" or "failed"
    error: str = ""
    retry: bool = False  # failed for a reason that is not the clip's content (worth another worker)
    duration_s: float = 0.0
    faces: int = 0
    rows: int = 0
    wall_s: float = 0.0
    files: dict[str, bytes] = field(default_factory=dict)


def recognizer_for(settings: BatchSettings) -> Any:
    """This process's recognizer for the batch's model and face finder, loaded once (thread-safe)."""
    from fer_core.recognizer import Recognizer

    key = (settings.model, settings.detector)
    with _lock:
        if key not in _recognizers:
            _recognizers[key] = Recognizer(settings.model, detector=settings.detector)
        return _recognizers[key]


def clip_files(clip: Clip, analysis: Any, settings: BatchSettings, card: dict) -> dict[str, bytes]:
    """The requested outputs of one analysed clip, plus its per-minute rows for the group summary."""
    from fer_core.batch import clip_report, elan, group_summary, pyfeat, tidy

    makers = {
        "csv": lambda: tidy.tidy_csv(analysis, clip.clip_id),
        "parquet": lambda: tidy.tidy_parquet(analysis, clip.clip_id),
        "pyfeat": lambda: pyfeat.pyfeat_csv(analysis, clip.name),
        "elan": lambda: elan.elan_eaf(analysis, clip.name,
                                      media_url=None if clip.data is not None else clip.path.resolve().as_uri()),
        "html": lambda: clip_report.clip_report_html(clip.source, analysis, clip.name, card),
    }
    files = {FORMAT_FILES[f]: makers[f]() for f in settings.formats}
    rows = {"clip": group_summary.clip_row(analysis, clip.clip_id),
            "minutes": group_summary.minute_rows(analysis, clip.clip_id)}
    files[MINUTES_FILE] = (json.dumps(rows, indent=1) + "\n").encode()
    return files


ClipProgress = Callable[[str, float], None]  # (clip id, seconds of the clip analysed so far)


def analyse_clip(clip: Clip, settings: BatchSettings, recognizer: Any = None,
                 progress: ClipProgress | None = None) -> ClipOutcome:
    """Analyse one clip. A clip that cannot be analysed for what it is (not a video, damaged, no frames)
    comes back "failed" with the reason in plain words and is not retried; any other error is marked for
    a retry on another worker."""
    from fer_core.video.analysis import VideoError, analyze_video

    start = time.perf_counter()
    try:
        rec = recognizer or recognizer_for(settings)
        if clip.data is None and not clip.path.is_file():
            raise VideoError(f"{clip.path} is not a file")
        if clip.data is not None and not clip.data:
            raise VideoError("the file is empty")
        report = None if progress is None else (lambda t, total: progress(clip.clip_id, t))
        analysis = analyze_video(clip.source, rec, fps=settings.fps, max_s=settings.max_s, progress=report)
        if not len(analysis.frame_times):
            raise VideoError("the clip has no frames that could be decoded")
        files = clip_files(clip, analysis, settings, rec.card)
    except VideoError as exc:
        return ClipOutcome(clip, "failed", error=str(exc), wall_s=time.perf_counter() - start)
    except (MemoryError, OSError, RuntimeError) as exc:  # the machine, not the clip: another try may work
        return ClipOutcome(clip, "failed", error=f"{type(exc).__name__}: {exc}", retry=True,
                           wall_s=time.perf_counter() - start)
    except Exception as exc:  # a bug: say where, do not retry forever
        last = traceback.extract_tb(exc.__traceback__)[-1]
        return ClipOutcome(clip, "failed", error=f"{type(exc).__name__}: {exc} ({Path(last.filename).name}:"
                                                 f"{last.lineno})", wall_s=time.perf_counter() - start)
    return ClipOutcome(clip, "done", duration_s=analysis.duration_s, faces=len(analysis.summaries),
                       rows=len(analysis.samples), wall_s=time.perf_counter() - start, files=files)


class QueueProgress:
    """A worker process's progress, sent to the coordinator through a queue at most every `every_s` seconds
    per clip (a module-level class, so a spawned worker can receive it)."""

    def __init__(self, queue: Any, every_s: float = 1.0) -> None:
        self.queue, self.every_s, self._last = queue, every_s, 0.0

    def __call__(self, clip_id: str, t: float) -> None:
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            self.queue.put((clip_id, t))


def analyse_clip_reporting(clip: Clip, settings: BatchSettings, queue: Any) -> ClipOutcome:
    """`analyse_clip` in a pool worker, its progress sent through `queue`."""
    return analyse_clip(clip, settings, progress=QueueProgress(queue))


def init_process(threads: int = 1) -> None:
    """A worker process: one torch thread each (N workers on N cores beat N threads fighting over them)."""
    import torch

    torch.set_num_threads(max(1, threads))
