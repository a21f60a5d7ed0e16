"""`fer-lens batch` and its coordinator on real clips: statuses and reasons, atomic resumable outputs, the index,
retries after a worker dies, the process pool and Ray."""
from __future__ import annotations

import csv
import importlib.util
import json
import shutil
import threading
from pathlib import Path

import pytest

from fer_core.batch.engine import InlineEngine, LocalEngine, RayEngine
from fer_core.batch.inputs import find_clips
from fer_core.batch.run import INDEX_COLUMNS, run_batch
from fer_core.batch.settings import DONE_FILE, FORMAT_FILES, MINUTES_FILE, BatchSettings, settings_hash
from fer_core.cli.main import main
from tests.conftest import require_shared

FAST = BatchSettings(fps=2.0, max_s=3.0)  # a few seconds of each clip keep the suite quick on 2 cores
CLIPS = ("liveportrait_d18.mp4", "liveportrait_d3.mp4")


@pytest.fixture(scope="module")
def recognizer():
    from fer_core.recognizer import Recognizer

    return Recognizer()


@pytest.fixture
def term(tmp_path: Path) -> Path:
    """A folder as a teacher would have it: two real clips in sub-folders, a damaged clip, an empty one and
    a file that is not a video at all (ignored: folders are searched by extension)."""
    videos = require_shared("media", "videos")
    root = tmp_path / "term"
    (root / "week1").mkdir(parents=True)
    (root / "week2").mkdir()
    shutil.copy(videos / CLIPS[0], root / "week1" / CLIPS[0])
    shutil.copy(videos / CLIPS[1], root / "week2" / CLIPS[1])
    good = (videos / CLIPS[0]).read_bytes()
    (root / "week2" / "damaged.mp4").write_bytes(good[:2000])
    (root / "week2" / "empty.mov").write_bytes(b"")
    (root / "notes.txt").write_text("not a clip")
    return root


def _index(out: Path) -> list[dict]:
    with open(out / "index.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_folders_are_searched_recursively_and_each_clip_is_counted_once(term: Path) -> None:
    clips = find_clips([term, term / "week1" / CLIPS[0]])
    names = sorted(c.name for c in clips)
    assert names == sorted([CLIPS[0], CLIPS[1], "damaged.mp4", "empty.mov"])
    assert len({c.clip_id for c in clips}) == len(clips)
    with pytest.raises(FileNotFoundError):
        find_clips([term / "missing"])


def test_a_batch_analyses_good_clips_and_records_why_bad_ones_failed(term: Path, tmp_path: Path,
                                                                       recognizer) -> None:
    out = tmp_path / "out"
    report = run_batch([term], out, FAST, InlineEngine(recognizer))
    rows = {Path(r["path"]).name: r for r in _index(out)}
    assert list(_index(out)[0]) == list(INDEX_COLUMNS)
    for name in CLIPS:
        row = rows[name]
        assert row["status"] == "done" and not row["error"]
        assert float(row["duration_s"]) > 0 and int(row["faces"]) >= 1 and int(row["rows"]) >= 1
        assert row["settings_hash"] == settings_hash(FAST) and row["model"] == recognizer.loaded.name
        folder = out / "clips" / row["clip_id"]
        for fmt in FAST.formats:
            assert (folder / FORMAT_FILES[fmt]).stat().st_size > 0
        assert json.loads((folder / DONE_FILE).read_text())["status"] == "done"
        assert json.loads((folder / MINUTES_FILE).read_text())["minutes"]
    for name in ("damaged.mp4", "empty.mov"):
        assert rows[name]["status"] == "failed" and len(rows[name]["error"]) > 10
    assert report.count("done") == 2 and len(report.failed) == 2
    assert (out / "summary.csv").stat().st_size > 0 and b"<html" in (out / "summary.html").read_bytes()[:200].lower()
    assert not list(out.rglob("*.tmp")), "temporary files were left behind"


def test_a_rerun_skips_finished_clips_and_finishes_an_interrupted_batch(term: Path, tmp_path: Path,
                                                                        recognizer) -> None:
    out = tmp_path / "out"
    clips = [c for c in find_clips([term]) if c.name in CLIPS]
    cancel = threading.Event()
    first = run_batch(clips, out, FAST, InlineEngine(recognizer), progress=lambda done, total, name: cancel.set()
                      if name else None, cancel=cancel)
    assert first.cancelled and first.count("done") == 1, "cancelling after the first clip stops the batch there"
    second = run_batch(clips, out, FAST, InlineEngine(recognizer))
    assert sorted(r["status"] for r in second.rows) == ["done", "skipped"]
    third = run_batch(clips, out, FAST, InlineEngine(recognizer))
    assert [r["status"] for r in third.rows] == ["skipped", "skipped"]
    forced = run_batch(clips, out, FAST, InlineEngine(recognizer), force=True)
    assert [r["status"] for r in forced.rows] == ["done", "done"]
    other = BatchSettings(fps=1.0, max_s=3.0)  # other settings: the stored outputs no longer count
    assert [r["status"] for r in run_batch(clips, out, other, InlineEngine(recognizer)).rows] == ["done", "done"]


def test_a_clip_whose_worker_dies_is_retried_on_a_new_worker(term: Path, tmp_path: Path, monkeypatch) -> None:
    from tests.batch.dying_task import die_once

    markers = tmp_path / "markers"
    markers.mkdir()
    monkeypatch.setenv("FER_LENS_TEST_MARKERS", str(markers))  # spawned workers inherit the environment
    clips = [c for c in find_clips([term]) if c.name == CLIPS[0]]
    report = run_batch(clips, tmp_path / "out", FAST, LocalEngine(1, task=die_once))
    assert [r["status"] for r in report.rows] == ["done"]
    assert (markers / f"{clips[0].clip_id}.tried").exists(), "the first worker did die"


def test_the_command_uses_a_process_pool_and_says_when_clips_failed(term: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    code = main(["batch", str(term), "--out", str(out), "--fps", "2", "--max-minutes", "0.05", "--workers", "2",
                 "--formats", "csv,html"])
    assert code == 1, "two clips failed, so the exit code says so"
    err = capsys.readouterr().err
    assert "2 done" in err and "2 failed" in err and "damaged.mp4" in err
    done = [r for r in _index(out) if r["status"] == "done"]
    assert len(done) == 2
    folder = out / "clips" / done[0]["clip_id"]
    assert (folder / "timeline.csv").exists() and not (folder / "timeline.parquet").exists()
    with pytest.raises(SystemExit) as stop:
        main(["batch", str(term), "--out", str(out), "--formats", "nonsense"])
    assert stop.value.code == 2 and "unknown format" in capsys.readouterr().err


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is not installed (pip install "
                    "'fer-lens[ray]'); the local engine is tested above")
def test_the_ray_engine_analyses_clips_on_actors(term: Path, tmp_path: Path) -> None:
    clips = [c for c in find_clips([term]) if c.name in (CLIPS[0], "damaged.mp4")]
    report = run_batch(clips, tmp_path / "out", BatchSettings(fps=2.0, max_s=3.0, formats=("csv",)),
                       RayEngine(workers=1))
    assert sorted(r["status"] for r in report.rows) == ["done", "failed"]


def test_progress_counts_seconds_of_video_and_never_steps_back(term: Path, tmp_path: Path) -> None:
    """Two workers report seconds within their clips while they run; the bar's figure only ever grows and
    ends at the clips' analysed length."""
    clips = [c for c in find_clips([term]) if c.name in CLIPS]
    seen: list[tuple[float, float]] = []
    run_batch(clips, tmp_path / "out", FAST, LocalEngine(2), progress=lambda done, total, name: seen.append(
        (done, total)))
    done = [d for d, _ in seen]
    assert len(seen) > len(clips) + 1, "progress also came from inside the clips"
    assert all(b >= a - 1e-9 for a, b in zip(done, done[1:])), done
    assert abs(done[-1] - seen[-1][1]) < 1e-6 and seen[-1][1] == pytest.approx(2 * FAST.max_s, abs=0.5)
