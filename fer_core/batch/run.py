"""The batch coordinator: which clips still need work, atomic writes of every output, `index.csv`, and the
group summary. Resumable by construction: a clip's `done.json` is written last, after its outputs, so a
batch stopped at any moment and run again skips exactly the clips that are complete for these settings."""
from __future__ import annotations

import csv
import io
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from fer_core.batch.engine import Engine, LocalEngine
from fer_core.batch.inputs import Clip, find_clips
from fer_core.batch.settings import (
    DONE_FILE,
    FAILED_FILE,
    FORMAT_FILES,
    MINUTES_FILE,
    BatchSettings,
    model_identity,
    settings_hash,
)
from fer_core.batch.worker import ClipOutcome

INDEX_COLUMNS = ("path", "clip_id", "status", "error", "duration_s", "faces", "rows", "wall_s", "settings_hash",
                 "model", "fer_lens_version")

ProgressFn = Callable[[float, float, str], None]  # (seconds of video done, seconds in all, last clip's name)


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: a reader (or a rerun) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@dataclass
class BatchReport:
    """Where a batch ended: one index row per clip (done, skipped or failed; none for a cancelled one)."""

    out: Path
    rows: list[dict] = field(default_factory=list)
    cancelled: bool = False

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.rows if r["status"] == "failed"]

    def count(self, status: str) -> int:
        return sum(r["status"] == status for r in self.rows)


def clip_dir(out: Path, clip: Clip) -> Path:
    return out / "clips" / clip.clip_id


def _marker(out: Path, clip: Clip, digest: str, formats: Iterable[str]) -> dict | None:
    """The stored row of a clip already finished with these settings (and every requested file), else None."""
    folder = clip_dir(out, clip)
    for name in (DONE_FILE, FAILED_FILE):
        path = folder / name
        if not path.is_file():
            continue
        try:
            row = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if row.get("settings_hash") != digest:
            return None
        if name == DONE_FILE and not all((folder / FORMAT_FILES[f]).is_file() for f in formats):
            return None
        if name == DONE_FILE and not (folder / MINUTES_FILE).is_file():
            return None
        return row
    return None


def _row(outcome: ClipOutcome, digest: str, model: str, version: str) -> dict:
    return {"path": str(outcome.clip.path), "clip_id": outcome.clip.clip_id, "status": outcome.status,
            "error": outcome.error, "duration_s": round(outcome.duration_s, 3), "faces": outcome.faces,
            "rows": outcome.rows, "wall_s": round(outcome.wall_s, 2), "settings_hash": digest, "model": model,
            "fer_lens_version": version}


def _save(out: Path, outcome: ClipOutcome, row: dict, settings: BatchSettings) -> None:
    folder = clip_dir(out, outcome.clip)
    for name, data in outcome.files.items():
        write_atomic(folder / name, data)
    (folder / (FAILED_FILE if outcome.status == "done" else DONE_FILE)).unlink(missing_ok=True)
    marker = dict(row, settings=settings.to_json())
    write_atomic(folder / (DONE_FILE if outcome.status == "done" else FAILED_FILE),
                 (json.dumps(marker, indent=1) + "\n").encode())


def index_csv(rows: list[dict]) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=INDEX_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def summary_table(minutes_files: Iterable[bytes]) -> list[dict]:
    """The group summary's rows (per clip, then per minute) from the clips' stored minutes.json files."""
    table: list[dict] = []
    for data in minutes_files:
        stored = json.loads(data)
        table += [stored["clip"], *stored["minutes"]]
    return table


def write_summary(out: Path, rows: list[dict]) -> None:
    """summary.csv and summary.html over every finished clip (per clip and per minute)."""
    from fer_core.batch.group_summary import summary_csv, summary_html

    paths = [out / "clips" / r["clip_id"] / MINUTES_FILE for r in rows if r["status"] in ("done", "skipped")]
    table = summary_table(p.read_bytes() for p in paths if p.is_file())
    write_atomic(out / "summary.csv", summary_csv(table))
    write_atomic(out / "summary.html", summary_html(table))


def _seconds(clip: Clip, max_s: float | None) -> float:
    """The length of the clip to analyse, for the progress bar (0 when it cannot be read: its worker will say
    why)."""
    from fer_core.video.decode import probe

    try:
        duration = probe(clip.source).duration_s
    except Exception:
        return 0.0
    return min(duration, max_s) if max_s else duration


def _outcomes(clips: list[Clip], settings: BatchSettings, engine: Engine, progress: ProgressFn | None,
              cancel: threading.Event | None) -> Iterator[ClipOutcome]:
    """The engine's outcomes, with `progress` told the seconds of video analysed: whole clips as they finish
    (with the clip's name) and, where the engine reports it, the clips in progress (name "")."""
    if not clips:
        return
    seconds = {c.clip_id: _seconds(c, settings.max_s) for c in clips}
    known = sum(seconds.values())
    total = known or float(len(clips))  # lengths unknown: count clips instead
    done = 0.0
    within: dict[str, float] = {}  # seconds analysed so far of each clip in progress

    finished: set[str] = set()  # a worker's last report may arrive after its clip's outcome

    def clip_progress(clip_id: str, t: float) -> None:
        if clip_id in finished:
            return
        within[clip_id] = min(t, seconds.get(clip_id, t))
        if progress:
            progress(min(done + sum(within.values()), total), total, "")

    if progress:
        progress(0.0, total, "")
    for outcome in engine.run(clips, settings, cancel, clip_progress):
        finished.add(outcome.clip.clip_id)
        within.pop(outcome.clip.clip_id, None)
        done += seconds.get(outcome.clip.clip_id, 0.0) if known else 1.0
        yield outcome
        if progress:  # the clips still in progress count too, so the bar never steps back
            progress(min(done + sum(within.values()), total), total, outcome.clip.name)


def run_batch(inputs: Iterable[str | Path] | list[Clip], out: str | Path, settings: BatchSettings | None = None,
              engine: Engine | None = None, force: bool = False, progress: ProgressFn | None = None,
              cancel: threading.Event | None = None) -> BatchReport:
    """Analyse every clip under `inputs` into `out` (see the module docstring); returns the index rows."""
    from fer_core import __version__

    settings = settings or BatchSettings()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    clips = list(inputs) if all(isinstance(c, Clip) for c in inputs) else find_clips(inputs)
    digest, model = settings_hash(settings), model_identity(settings.model)["name"]
    report = BatchReport(out)
    rows: dict[str, dict] = {}
    todo = []
    for clip in clips:
        stored = None if force else _marker(out, clip, digest, settings.formats)
        if stored is None:
            todo.append(clip)
        else:
            rows[clip.clip_id] = dict({k: stored.get(k, "") for k in INDEX_COLUMNS}, path=str(clip.path),
                                      status="skipped" if stored["status"] == "done" else "failed")
    order = [c.clip_id for c in clips]

    def flush_index() -> None:
        write_atomic(out / "index.csv", index_csv([rows[i] for i in order if i in rows]))

    for outcome in _outcomes(todo, settings, engine or LocalEngine(), progress, cancel):
        row = _row(outcome, digest, model, __version__)
        _save(out, outcome, row, settings)
        rows[outcome.clip.clip_id] = row
        flush_index()
    report.cancelled = bool(cancel and cancel.is_set() and len(rows) < len(clips))
    report.rows = [rows[i] for i in order if i in rows]
    flush_index()
    write_summary(out, report.rows)
    return report


@dataclass
class MemoryBatch:
    """A batch whose every output stayed in memory (the dashboard: nothing is written to disk)."""

    rows: list[dict] = field(default_factory=list)
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)  # clip id -> file name -> bytes
    cancelled: bool = False

    def summary(self) -> tuple[bytes, bytes]:
        """(summary.csv, summary.html) over the finished clips."""
        from fer_core.batch.group_summary import summary_csv, summary_html

        table = summary_table(f[MINUTES_FILE] for f in self.files.values() if MINUTES_FILE in f)
        return summary_csv(table), summary_html(table)

    def zip_bytes(self) -> bytes:
        """Everything as one zip, laid out as `fer-lens batch` lays out its folder, built in memory."""
        import zipfile

        buf = io.BytesIO()
        summary_csv_bytes, summary_html_bytes = self.summary()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr("index.csv", index_csv(self.rows))
            z.writestr("summary.csv", summary_csv_bytes)
            z.writestr("summary.html", summary_html_bytes)
            for clip_id, files in self.files.items():
                for name, data in files.items():
                    z.writestr(f"clips/{clip_id}/{name}", data)
        return buf.getvalue()


def run_in_memory(clips: list[Clip], settings: BatchSettings, engine: Engine,
                  progress: ProgressFn | None = None, cancel: threading.Event | None = None) -> MemoryBatch:
    """The same analysis as `run_batch`, kept in memory: for uploads, whose bytes never touch the disk."""
    from fer_core import __version__

    digest, model = settings_hash(settings), model_identity(settings.model)["name"]
    batch = MemoryBatch()
    for outcome in _outcomes(clips, settings, engine, progress, cancel):
        batch.rows.append(_row(outcome, digest, model, __version__))
        if outcome.status == "done":
            batch.files[outcome.clip.clip_id] = outcome.files
    batch.cancelled = bool(cancel and cancel.is_set() and len(batch.rows) < len(clips))
    return batch
