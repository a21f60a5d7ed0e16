"""The Many clips page: it renders with the responsible-use notice and a multi-file uploader, offers a folder only
to a browser on this computer, keeps one batch per session (Start is disabled while one runs, Cancel stops it
after the clip in progress), and a real batch of two shared clips and a damaged file runs on a background
thread with the real recognizer, then shows its index, group summary and downloads.

AppTest cannot upload files to a multi-file uploader reliably, so batches are run through the view's job
functions with real bytes and the finished job is handed to the page in session_state; the browser test
(tests/app/test_browser_many_clips.py) uploads through the real widget.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fer_core.batch.inputs import uploaded_clip
from fer_core.batch.settings import FORMAT_FILES, BatchSettings
from tests.app.app_support import model_env
from tests.conftest import REPO, require_shared
from ui import many_clips_view as view

APP = str(REPO / "app.py")
PAGE = "app_pages/many_clips.py"
TIMEOUT = 300
FAST = BatchSettings(fps=2.0, max_s=0.05 * 60)  # 2 frames a second, the first 0.05 minutes of each clip
CLIPS = ("liveportrait_d3.mp4", "liveportrait_d18.mp4")

pytestmark = pytest.mark.filterwarnings("ignore:Setting backward hooks on ReLU")


@pytest.fixture(scope="module")
def recognizer():
    from fer_core.recognizer import Recognizer

    return Recognizer(model_env().get("FER_LENS_MODEL"))


def texts(at: AppTest) -> str:
    parts = [e.value for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning",
                                  "error", "success") for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts).lower()


def downloads(at: AppTest) -> list[str]:
    return [d.proto.label for d in at.get("download_button")]


def open_page(at: AppTest, job: view.Job | None = None) -> AppTest:
    at.run()
    if job is not None:
        at.session_state[view.JOB_KEY] = job
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def real_clips() -> view.Chosen:
    """Two shared clips and a damaged one (the first 3000 bytes of a real MP4), as uploads in memory."""
    videos = require_shared("media", "videos")
    chosen = view.Chosen()
    good = [(name, (videos / name).read_bytes()) for name in CLIPS]
    for name, data in [*good, ("damaged.mp4", good[0][1][:3000])]:
        clip = uploaded_clip(name, data)
        chosen.clips.append(clip)
        chosen.labels[clip.clip_id] = name
    return chosen


@pytest.fixture(scope="module")
def finished(recognizer) -> view.Job:
    """A real batch, started as the page starts one: on its background thread, with the shared recognizer."""
    job = view.start_job(real_clips(), FAST, recognizer)
    job.thread.join(timeout=240)
    assert not job.running, "the batch did not finish within 4 minutes"
    return job


# ---- choosing the clips ----------------------------------------------------------------------------------

def test_page_renders_with_the_notice_and_a_multi_file_uploader(app: AppTest) -> None:
    at = open_page(app)
    words = texts(at)
    assert "many clips" in words and "facial expression" in words
    assert "article 5(1)(f)" in words and "consent of the people filmed" in words, "the responsible-use notice"
    assert "emotion" not in words.replace("infer the emotions", ""), "say facial expression, not emotion"
    uploader = at.get("file_uploader")[0]
    assert uploader.proto.multiple_files and ".mp4" in uploader.proto.type
    assert f"at most {view.MAX_CLIPS} clips" in uploader.proto.label and "200 mb each" in uploader.proto.label.lower()
    assert not at.radio, "AppTest has no browser on localhost: the folder choice must not be offered"
    start = at.button(key="many_start")
    assert start.disabled and "choose the clips first" in words


@pytest.mark.parametrize(("ip", "url", "headers", "local"), [
    (None, "http://localhost:8501/many_clips", {"Host": "localhost:8501"}, True),
    (None, "http://127.0.0.1:8501/", {"host": "127.0.0.1:8501"}, True),
    (None, "http://[::1]:8501/", {"Host": "[::1]:8501"}, True),
    ("192.168.1.20", "http://192.168.1.5:8501/", {"Host": "192.168.1.5:8501"}, False),  # another computer
    (None, "https://fer.example.org/", {"Host": "localhost:8501"}, False),  # a proxy on this machine
    (None, "http://localhost:8501/", {"Host": "localhost:8501", "X-Forwarded-For": "203.0.113.9"}, False),
    (None, None, {}, False),  # no browser at all
])
def test_a_folder_is_offered_only_to_a_browser_on_this_computer(ip, url, headers, local) -> None:
    assert view.is_local_visit(ip, url, headers) is local


def test_folder_choices_say_what_was_found(tmp_path: Path) -> None:
    (tmp_path / "week1").mkdir()
    (tmp_path / "week1" / "monday.mp4").write_bytes(b"x")
    (tmp_path / "tuesday.MOV").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("not a clip")
    chosen = view.from_folder(str(tmp_path))
    assert not chosen.problem
    assert sorted(chosen.labels.values()) == ["tuesday.MOV", str(Path("week1") / "monday.mp4")]
    (tmp_path / "empty").mkdir()
    assert "no video clips were found" in view.from_folder(str(tmp_path / "empty")).problem.lower()
    assert "is a file" in view.from_folder(str(tmp_path / "notes.txt")).problem
    assert "there is no folder" in view.from_folder(str(tmp_path / "missing")).problem.lower()
    assert view.from_folder("  ").clips == [] and not view.from_folder("  ").problem
    assert view.limit_problem(view.MAX_CLIPS, local=True) == ""
    assert f"at most {view.MAX_CLIPS}" in view.limit_problem(view.MAX_CLIPS + 1, local=False)
    assert "fer-lens batch" in view.limit_problem(view.MAX_CLIPS + 1, local=True)


# ---- one batch per session -------------------------------------------------------------------------------

def test_start_is_disabled_while_a_batch_runs_and_cancel_stops_it(app: AppTest) -> None:
    job = view.Job(("a-1", "b-2"), {"a-1": "monday.mp4", "b-2": "tuesday.mp4"}, FAST)
    job.update(0.0, 20.0, "")
    job.update(12.0, 20.0, "monday.mp4")  # one clip finished,
    job.update(15.0, 20.0, "")  # the other in progress (there is no thread: this job never ends)
    at = open_page(app, job)
    start = at.button(key="many_start")
    assert start.disabled, "a second batch must not start while one runs"
    assert "a batch is already running in this tab" in start.help.lower()
    words = texts(at)
    assert "a batch is already running" in words and "tuesday.mp4" in words, "the clip in progress is named"
    bar = at.get("progress")[0].proto
    assert "1 of 2 clips · 0:15 of 0:20 of video · about" in bar.text and 0.7 < bar.value / 100 < 0.8
    at.button(key="many_cancel").click().run()
    assert not at.exception, at.exception
    assert job.cancel.is_set()
    assert "stopping: the clip in progress is finished" in texts(at)


# ---- real batches ----------------------------------------------------------------------------------------

def test_a_real_batch_of_two_clips_and_a_damaged_file_finishes(finished: view.Job) -> None:
    p = finished.snapshot()
    assert not p.error and p.batch is not None and not p.batch.cancelled
    assert p.clips_done == 3 and p.done_s == pytest.approx(p.total_s) and p.total_s > 0
    by_name = {finished.label(r["clip_id"]): r for r in p.batch.rows}
    assert [by_name[n]["status"] for n in (*CLIPS, "damaged.mp4")] == ["done", "done", "failed"]
    assert "not a video fer lens can read" in by_name["damaged.mp4"]["error"].lower()
    for name in CLIPS:
        row = by_name[name]
        assert 0 < row["duration_s"] <= FAST.max_s + 0.5 and row["faces"] >= 1 and row["rows"] > 0
        assert p.batch.files[row["clip_id"]][FORMAT_FILES["html"]].startswith(b"<!DOCTYPE html")
    with zipfile.ZipFile(io.BytesIO(p.batch.zip_bytes())) as z:
        names = set(z.namelist())
    assert {"index.csv", "summary.csv", "summary.html"} <= names
    assert all(f"clips/{by_name[n]['clip_id']}/report.html" in names for n in CLIPS)
    assert not any(by_name["damaged.mp4"]["clip_id"] in n for n in names), "a failed clip has no outputs"


def test_the_page_shows_a_finished_batch(app: AppTest, finished: view.Job) -> None:
    at = open_page(app, finished)
    words = texts(at)
    assert "finished, with problems" in words and "2 analysed, 1 could not be analysed" in words
    start = at.button(key="many_start")
    assert start.disabled and start.help == "Choose the clips first.", "finished: only the empty uploader stops it"
    index = at.dataframe[0].value
    assert list(index.columns) == ["Clip", "Status", "Length analysed", "Faces", "Face readings", "Took (s)", "Reason"]
    assert list(index["Clip"]) == [*CLIPS, "damaged.mp4"]
    damaged = index.set_index("Clip").loc["damaged.mp4"]
    assert damaged["Status"] == "could not be analysed" and "damaged" in damaged["Reason"]
    assert (index.set_index("Clip").loc[list(CLIPS), "Status"] == "analysed").all()
    assert "none" not in " ".join(index["Reason"].astype(str)).lower()
    assert "could not be analysed:" in words and "**damaged.mp4**: the file is not a video" in words, \
        "the reason is also written out in full below the table"
    summary = at.dataframe[1].value
    assert list(summary["Clip"]) == list(CLIPS), "one summary row per analysed clip"
    shares = summary[["Neutral", "Happiness", "Surprise", "Sadness", "Anger", "Disgust", "Fear", "Contempt"]]
    assert ((shares.sum(axis=1) - 100).abs() < 1).all(), "each clip's top-expression shares add up to 100%"
    assert set(summary["Most often"]) <= {c.lower() for c in shares.columns}
    minutes = at.dataframe[2].value
    assert set(minutes["Clip"]) == set(CLIPS) and (minutes["Minute"] == "0:00–1:00").all()
    labels = downloads(at)
    assert labels.count("Open report") == 2 and "Download everything (.zip)" in labels
    assert "Group summary (HTML)" in labels


def test_cancel_finishes_the_clip_in_progress_and_skips_the_rest(app: AppTest, recognizer) -> None:
    class CancelAfterFirst(view.Job):
        def update(self, done_s: float, total_s: float, last_name: str) -> None:
            super().update(done_s, total_s, last_name)
            if last_name:
                self.cancel.set()  # as the Cancel button does, while the next clip would start

    chosen = real_clips()
    job = CancelAfterFirst(tuple(c.clip_id for c in chosen.clips), chosen.labels, FAST)
    view.run_job(job, chosen.clips, view.InlineEngine(recognizer))
    batch = job.snapshot().batch
    assert batch.cancelled and [r["status"] for r in batch.rows] == ["done"]
    at = open_page(app, job)
    words = texts(at)
    assert "stopped at your request" in words and "1 analysed, 2 skipped" in words
    index = at.dataframe[0].value
    assert list(index["Status"].str.contains("skipped")) == [False, True, True]
    assert (index["Reason"].iloc[1:] == "The batch was stopped before this clip.").all()


def test_a_batch_that_breaks_says_so_and_a_new_one_can_start(app: AppTest) -> None:
    class Broken:
        def run(self, clips, settings, cancel=None, progress=None):
            raise RuntimeError("the engine fell over")
            yield  # a generator, as engines are

    job = view.Job(("x-1",), {"x-1": "monday.mp4"}, FAST)
    view.run_job(job, [uploaded_clip("monday.mp4", b"not a video")], Broken())
    assert not job.running and "the engine fell over" in job.snapshot().error
    at = open_page(app, job)
    assert "the batch stopped because of an error" in texts(at) and "the engine fell over" in texts(at)
    assert "already running" not in at.button(key="many_start").help.lower()
