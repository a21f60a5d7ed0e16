"""How the Many clips page runs a batch and shows it: which clips (uploads, or a folder on a local install),
the batch job on a background thread with its progress and Cancel, and the finished batch (index, group
summary, per-clip reports, one zip).

The batch itself is `fer_core.batch` (`run_in_memory` on an `InlineEngine` with the app's shared recognizer):
every output stays in memory, nothing is written to disk. The job's thread never calls Streamlit; it only
updates a `Job`, guarded by a lock, which the page keeps in `st.session_state` (one batch per browser session)
and polls from a fragment once a second.
"""
from __future__ import annotations

import csv
import io
import ipaddress
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping
from urllib.parse import urlsplit

import pandas as pd
import streamlit as st
from streamlit.logger import get_logger

from fer_core.batch.engine import InlineEngine
from fer_core.batch.inputs import VIDEO_SUFFIXES, Clip, find_clips, uploaded_clip
from fer_core.batch.run import MemoryBatch, run_in_memory
from fer_core.batch.settings import FORMAT_FILES, BatchSettings
from fer_core.labels import CLASSES

from .video_view import _clock

MAX_CLIPS = 50  # per batch: more is a job for `fer-lens batch` (resumable, on every core)
SCAN_LIMIT = 20_000  # folder entries looked at before giving up (typing "/" must not hang the page)
JOB_KEY = "many_clips_job"
REFRESH_S = 1.0  # the progress redraws once a second while a batch runs
LENGTHS = {0: "All of it", 1: "Only the first minute", 5: "Only the first 5 minutes",
           10: "Only the first 10 minutes", 30: "Only the first 30 minutes"}  # minutes analysed per clip
FORWARDING_HEADERS = ("x-forwarded-for", "x-forwarded-host", "x-real-ip", "forwarded")

log = get_logger(__name__)


# ---- local or remote -------------------------------------------------------------------------------------

def _loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_local_visit(ip_address: str | None, url: str | None, headers: Mapping[str, str]) -> bool:
    """Whether the browser talks to this server on this very computer: the connection comes from a loopback
    address (Streamlit's `ip_address` is None then), the page's address and the Host header both name
    localhost, and no proxy forwarded the request. Anything unknown counts as remote: a folder of this
    computer is never offered to a visitor from elsewhere."""
    if ip_address is not None or not url:
        return False
    lowered = {k.lower(): v for k, v in headers.items()}
    if any(h in lowered for h in FORWARDING_HEADERS):
        return False
    host_header = lowered.get("host", "")
    return _loopback(urlsplit(url).hostname) and _loopback(urlsplit(f"//{host_header}").hostname)


def is_local() -> bool:
    """`is_local_visit` for this session's browser."""
    try:
        ctx = st.context
        return is_local_visit(ctx.ip_address, ctx.url, ctx.headers)
    except Exception:  # no browser context (tests, bare mode): remote
        return False


# ---- choosing the clips ----------------------------------------------------------------------------------

@dataclass
class Chosen:
    """The clips a batch would cover, how to label each, and why no batch can start with them, if so."""

    clips: list[Clip] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # clip id -> the name shown for it
    problem: str = ""  # why no batch can start with this choice (shown as an error)


def from_uploads(uploads: Iterable) -> Chosen:
    """Clips from the uploader's files, read into memory (an identical file chosen twice counts once)."""
    chosen = Chosen()
    for upload in uploads:
        clip = uploaded_clip(upload.name, upload.getvalue())
        if clip.clip_id in chosen.labels:  # the page says so, from names and sizes
            continue
        chosen.clips.append(clip)
        chosen.labels[clip.clip_id] = upload.name
    return chosen


def _too_many_files(folder: Path) -> bool:
    seen = 0
    for _, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        seen += len(dirs) + len(files)
        if seen > SCAN_LIMIT:
            return True
    return False


def from_folder(text: str) -> Chosen:
    """Every clip in a folder of this computer and its sub-folders (by video extension), or the problem."""
    text = text.strip().strip('"').strip("'")
    if not text:
        return Chosen()
    folder = Path(text).expanduser()
    if not folder.exists():
        return Chosen(problem=f"There is no folder **{text}** on this computer. Check the spelling, or copy the "
                              "folder's path from your file manager.")
    if not folder.is_dir():
        return Chosen(problem=f"**{text}** is a file, not a folder. Type the folder that holds the clips.")
    if _too_many_files(folder):
        return Chosen(problem=f"**{text}** holds more than {SCAN_LIMIT:,} files and folders, too many to search. "
                              "Type the folder that holds the clips themselves.")
    try:
        clips = find_clips([folder])
    except OSError as exc:
        return Chosen(problem=f"The folder **{text}** could not be read ({exc.strerror or exc}).")
    chosen = Chosen(clips=clips)
    for clip in clips:
        try:
            chosen.labels[clip.clip_id] = str(clip.path.relative_to(folder))
        except ValueError:
            chosen.labels[clip.clip_id] = clip.name
    if not clips:
        kinds = ", ".join(sorted(s.lstrip(".").upper() for s in VIDEO_SUFFIXES))
        chosen.problem = (f"No video clips were found in **{text}** or its sub-folders (FER Lens looks for "
                          f"files ending in {kinds}).")
    return chosen


def limit_problem(count: int, local: bool) -> str:
    """Why a choice of `count` clips is too big for one batch ("" when it is not)."""
    if count <= MAX_CLIPS:
        return ""
    more = (" For more, run `fer-lens batch FOLDER --out RESULTS` on this computer: it uses every core and "
            "picks up where it stopped.") if local else " Run several batches of fewer clips."
    return f"That is {count} clips; one batch takes at most {MAX_CLIPS}.{more}"


# ---- the job ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Progress:
    """A consistent copy of a job's state, for drawing."""

    total_clips: int
    clips_done: int
    done_s: float
    total_s: float
    last_name: str
    elapsed_s: float
    running: bool
    cancel_requested: bool
    batch: MemoryBatch | None
    error: str


@dataclass(eq=False)
class Job:
    """One batch of one browser session. The worker thread only calls `update` and `finish`; the page only
    reads `snapshot()` and sets `cancel`."""

    order: tuple[str, ...]  # clip ids, in the order they are analysed
    labels: dict[str, str]  # clip id -> name shown
    settings: BatchSettings
    cancel: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.monotonic)
    thread: threading.Thread | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _finished: int = 0
    _done_s: float = 0.0
    _total_s: float = 0.0
    _last: str = ""
    _ended: float | None = None
    _batch: MemoryBatch | None = field(default=None, repr=False)
    _error: str = ""

    def update(self, done_s: float, total_s: float, last_name: str) -> None:
        """`run_in_memory`'s progress callback: seconds of video analysed in all, with the name of a clip that
        has just finished ("" at the start and while a clip is in progress)."""
        with self._lock:
            if last_name:
                self._finished += 1
                self._last = last_name
            self._done_s, self._total_s = done_s, total_s

    def finish(self, batch: MemoryBatch | None = None, error: str = "") -> None:
        with self._lock:
            self._batch, self._error, self._ended = batch, error, time.monotonic()

    @property
    def running(self) -> bool:
        with self._lock:
            return self._ended is None

    def snapshot(self) -> Progress:
        with self._lock:
            end = self._ended if self._ended is not None else time.monotonic()
            return Progress(len(self.order), min(self._finished, len(self.order)), self._done_s, self._total_s,
                            self._last, end - self.started, self._ended is None, self.cancel.is_set(), self._batch,
                            self._error)

    def label(self, clip_id: str) -> str:
        return self.labels.get(clip_id, clip_id)


def run_job(job: Job, clips: list[Clip], engine) -> None:
    """The worker thread's body (also callable directly): the batch, in memory, reported into `job`. Never
    touches Streamlit."""
    try:
        batch = run_in_memory(clips, job.settings, engine, progress=job.update, cancel=job.cancel)
    except Exception as exc:  # a bug or a missing model: the page says so instead of waiting forever
        log.exception("the batch stopped")
        job.finish(error=f"{type(exc).__name__}: {exc}")
    else:
        job.finish(batch=batch)
    finally:
        if job.running:  # something other than an Exception ended the thread
            job.finish(error="the batch stopped unexpectedly")


def start_job(chosen: Chosen, settings: BatchSettings, recognizer) -> Job:
    """A job for these clips, already running on a daemon thread with the shared recognizer."""
    job = Job(tuple(c.clip_id for c in chosen.clips), dict(chosen.labels), settings)
    job.thread = threading.Thread(target=run_job, args=(job, list(chosen.clips), InlineEngine(recognizer)),
                                  name="fer-lens-many-clips", daemon=True)
    job.thread.start()
    return job


def current_job() -> Job | None:
    return st.session_state.get(JOB_KEY)


def progress_text(p: Progress) -> str:
    """ "N of M clips · mm:ss of mm:ss of video · about mm:ss left" (no estimate before any video is done)."""
    text = f"{p.clips_done} of {p.total_clips} clip{'s' if p.total_clips != 1 else ''}"
    if p.total_s > 0 and p.done_s > 0:
        text += f" · {_clock(p.done_s)} of {_clock(p.total_s)} of video"
        if 0 < p.done_s < p.total_s:
            text += f" · about {_clock(p.elapsed_s * (p.total_s - p.done_s) / p.done_s)} left"
    elif p.total_s > 0:
        text += f" · {_clock(p.total_s)} of video in all · estimating the time left…"
    return text


# ---- pieces of the page ----------------------------------------------------------------------------------

@st.fragment(run_every=REFRESH_S)
def show_progress(job: Job) -> None:
    """The running batch: a progress bar redrawn every second, and Cancel. Reruns the whole page once the
    batch has ended, so the results replace it."""
    p = job.snapshot()
    if not p.running:
        st.rerun()
    share = min(1.0, p.done_s / p.total_s) if p.total_s else (p.clips_done / max(1, p.total_clips))
    st.progress(share, text=progress_text(p))
    if p.clips_done < p.total_clips:
        now = job.label(job.order[p.clips_done])
        st.caption(f"Now analysing clip {p.clips_done + 1}: **{now}** · {_clock(p.elapsed_s)} since the start. "
                   "You can use the other pages meanwhile; come back here for the results.")
    if p.cancel_requested:
        st.info("Stopping: the clip in progress is finished, the rest are skipped.", icon=":material/pause:")
    else:
        st.button("Cancel", key="many_cancel", on_click=job.cancel.set, icon=":material/stop_circle:",
                  help="Finish the clip in progress and skip the rest. What is finished stays.")


def _reason(row: dict) -> str:
    error = str(row.get("error") or "").strip()
    if row["status"] == "done":
        return "" if row.get("faces") else "No face was found in the analysed part."
    if not error:
        return "The clip could not be analysed (no reason was given)."
    return error[0].upper() + error[1:] + ("" if error.endswith(".") else ".")


STATUS_WORDS = {"done": "analysed", "failed": "could not be analysed", "skipped": "skipped (stopped)"}


def index_table(job: Job, batch: MemoryBatch) -> pd.DataFrame:
    """One row per clip of the batch in plain words: finished, failed (with its reason) or skipped."""
    rows = {r["clip_id"]: r for r in batch.rows}
    table = []
    for clip_id in job.order:
        r = rows.get(clip_id)
        if r is None:
            table.append({"Clip": job.label(clip_id), "Status": STATUS_WORDS["skipped"], "Length analysed": "",
                          "Faces": None, "Face readings": None, "Took (s)": None,
                          "Reason": "The batch was stopped before this clip."})
            continue
        done = r["status"] == "done"
        table.append({"Clip": job.label(clip_id), "Status": STATUS_WORDS.get(r["status"], r["status"]),
                      "Length analysed": _clock(float(r["duration_s"] or 0)) if done else "",
                      "Faces": int(r["faces"]) if done else None, "Face readings": int(r["rows"]) if done else None,
                      "Took (s)": float(r["wall_s"] or 0), "Reason": _reason(r)})
    return pd.DataFrame(table)


def _share(value: str) -> float | None:
    return None if value in ("", None) else round(100 * float(value), 1)


def summary_tables(job: Job, batch: MemoryBatch) -> tuple[pd.DataFrame, pd.DataFrame]:
    """summary.csv as two tables with plain column names: one row per clip, and one per clip minute."""
    summary_csv, _ = batch.summary()
    per_clip, per_minute = [], []
    for r in csv.DictReader(io.StringIO(summary_csv.decode("utf-8"))):
        shares = {c: _share(r.get(f"expr_{c}", "")) for c in CLASSES}
        known = {c: v for c, v in shares.items() if v is not None}
        row = {"Clip": job.label(r["clip_id"]), "Length": _clock(float(r["duration_s"] or 0)),
               "Faces": int(r["faces"] or 0),
               "Faces in view": None if r["faces_in_view"] == "" else round(float(r["faces_in_view"]), 1),
               "Most often": max(known, key=known.get) if known else "–",
               **{c.capitalize(): v for c, v in shares.items()},
               "Unsure": _share(r["unsure_share"]), "Facing camera": _share(r["facing_share"])}
        if r["minute"] == "all":
            per_clip.append(row)
        else:
            m = int(r["minute"])
            per_minute.append({"Clip": row["Clip"], "Minute": f"{m}:00–{m + 1}:00",
                               **{k: v for k, v in row.items() if k != "Clip"}})
    return pd.DataFrame(per_clip), pd.DataFrame(per_minute)


def _summary_config() -> dict:
    pct = {c.capitalize(): st.column_config.NumberColumn(c.capitalize(), format="%.0f%%", width="small")
           for c in CLASSES}
    return {**pct,
            "Faces in view": st.column_config.NumberColumn(format="%.1f",
                                                           help="Mean number of faces per analysed frame"),
            "Most often": st.column_config.TextColumn(help="The facial expression most often read as the top one"),
            "Unsure": st.column_config.NumberColumn(format="%.0f%%", help="How often the model was unsure"),
            "Facing camera": st.column_config.NumberColumn(
                format="%.0f%%", help="How often the head was turned towards the camera (of the readings with "
                                      "a measured head pose)")}


def show_results(job: Job) -> None:
    """The finished (or stopped) batch: what happened, the index, the group summary and the downloads."""
    p = job.snapshot()
    if p.error:
        st.error(f"The batch stopped because of an error: {p.error}. Nothing was lost on this computer; try "
                 "again, or with fewer clips.", icon=":material/error:")
        return
    batch = p.batch
    if batch is None:
        return
    done = sum(r["status"] == "done" for r in batch.rows)
    failed = len(batch.rows) - done
    skipped = p.total_clips - len(batch.rows)
    words = [f"{done} analysed"] + ([f"{failed} could not be analysed"] if failed else []) + (
        [f"{skipped} skipped"] if skipped else [])
    head = f"{p.total_clips} clip{'s' if p.total_clips != 1 else ''}: {', '.join(words)}. Took {_clock(p.elapsed_s)}."
    if batch.cancelled:
        st.warning(f"**Stopped at your request.** {head} The skipped clips were not analysed; start again to "
                   "include them.", icon=":material/pause_circle:")
    elif failed:
        st.warning(f"**Finished, with problems.** {head} Below the table: why each failed clip could not be "
                   "analysed.", icon=":material/warning:")
    else:
        st.success(f"**Finished.** {head}", icon=":material/check_circle:")

    st.markdown("#### Every clip")
    st.dataframe(index_table(job, batch), hide_index=True, placeholder="–", key="many_index",
                 column_config={"Reason": st.column_config.TextColumn(width="large"),
                                "Face readings": st.column_config.NumberColumn(
                                    help="One face in one analysed frame: what the percentages below count"),
                                "Took (s)": st.column_config.NumberColumn(format="%.1f",
                                                                          help="Seconds of work on this clip")})
    failures = [r for r in batch.rows if r["status"] == "failed"]
    if failures:
        st.markdown("**Could not be analysed:**\n" + "\n".join(
            f"- **{job.label(r['clip_id'])}**: {_reason(r)}" for r in failures))
    per_clip, per_minute = summary_tables(job, batch)
    if per_clip.empty:
        st.info("No clip could be analysed, so there is no group summary.", icon=":material/info:")
    else:
        st.markdown("#### Group summary")
        st.caption("Percentages are shares of face readings (one face in one analysed frame): how often each facial "
                   "expression was the top reading, how often the model was unsure, and how often the head was "
                   "turned towards the camera. Faces are numbered within each clip only: nothing links a face in "
                   "one clip to a face in another.")
        st.dataframe(per_clip, hide_index=True, placeholder="–", column_config=_summary_config(),
                     key="many_summary")
        with st.expander("Minute by minute", icon=":material/schedule:"):
            st.dataframe(per_minute, hide_index=True, placeholder="–", column_config=_summary_config(),
                         key="many_minutes")
    show_downloads(job, batch)


def show_downloads(job: Job, batch: MemoryBatch) -> None:
    st.markdown("#### Save")
    stamp = time.strftime("%Y%m%d-%H%M")
    c1, c2, _ = st.columns([1.2, 1.2, 1])
    c1.download_button("Download everything (.zip)", batch.zip_bytes, f"fer-lens-batch-{stamp}.zip",
                       "application/zip", on_click="ignore", icon=":material/folder_zip:", type="primary",
                       key="many_zip", width="stretch",
                       help="Every clip's report and timelines (CSV, Parquet, Py-Feat, ELAN), the index and the "
                            "group summary, made on this computer when you click")
    if any(r["status"] == "done" for r in batch.rows):
        c2.download_button("Group summary (HTML)", lambda: batch.summary()[1], f"fer-lens-summary-{stamp}.html",
                           "text/html", on_click="ignore", icon=":material/summarize:", key="many_summary_html",
                           width="stretch", help="The group summary as a web page, ready to print")
    reports = [(r["clip_id"], batch.files[r["clip_id"]]) for r in batch.rows
               if r["status"] == "done" and FORMAT_FILES["html"] in batch.files.get(r["clip_id"], {})]
    if not reports:
        return
    st.markdown("**Each clip's report**: a web page with its timeline and observations. It downloads; open it "
                "from your downloads in any browser.")
    for clip_id, files in reports:
        name = job.label(clip_id)
        left, right = st.columns([3, 1], vertical_alignment="center")
        left.markdown(f"{name}")
        right.download_button("Open report", files[FORMAT_FILES["html"]], f"{Path(name).stem}-report.html",
                              "text/html", on_click="ignore", icon=":material/description:",
                              key=f"many_report_{clip_id}", width="stretch", help=f"The report on {name} (HTML)")
