"""A class on one laptop, under load, in real browsers: the teacher's and 4 pupils' webcams plus 8 pupils' photos,
all at once, on a real classroom server (HTTPS, access code) at the loopback addresses (`tests/classroom/load_test.py`).

Asserted: behaviour only. Nobody gets an error, every photo visitor gets results or a clear "please wait", every
pupil's camera either streams or is told to wait (by the cap, or by its panel while it connects), and no more
pupils stream than the cap. The figures (photo times, frames per second per stream, server memory) are a
benchmark: printed and written to $FER_LENS_SCREENSHOTS/classroom_load_test.json (else <repo>/screenshots), not
asserted; the teacher's >= 15 frames/s is checked by `python -m tests.classroom.load_test`, on a quiet machine
(docs/classroom.md).

Takes about 2 minutes on 2 cores. Needs: `apt-get install -y chromium`, `pip install playwright` (never
`playwright install`), and the shared media.
"""
from __future__ import annotations

import sys

import pytest

from tests.classroom import load_test
from tests.conftest import require_shared

WINDOW_S = 45.0  # shorter than the benchmark's 75 s: enough for every photo (25-50 s here) and the streams


@pytest.fixture(scope="module")
def report() -> dict:
    if not load_test.CHROMIUM.exists():
        pytest.skip(f"no browser: {load_test.CHROMIUM} is missing (apt-get install -y chromium)")
    pytest.importorskip("playwright.async_api", reason="playwright is not installed (pip install playwright)")
    require_shared(*load_test.VIDEO)
    for name in load_test.PHOTOS:
        require_shared("media", "photos", name)
    found = load_test.run(seconds=WINDOW_S, steady_s=15.0, out=load_test.SHOTS / "classroom_load_test.json",
                          shots=False)
    print("\n" + load_test.table(found), file=sys.stderr)
    return found


def _behaviour_reasons(report: dict) -> list[str]:
    """The failures that are about behaviour: not the frames/s benchmark, nor an admitted pupil's stream that
    dropped on a busy machine (checked in the camera test above)."""
    return [r for r in report["reasons"] if "frames/s" not in r and not r.endswith(": stalled")]


def test_everyone_joined_and_nobody_got_an_error(report: dict) -> None:
    assert report["joined"] == f"{1 + load_test.STREAM_PUPILS + len(load_test.PHOTOS)} of " \
                               f"{1 + load_test.STREAM_PUPILS + len(load_test.PHOTOS)}", report["reasons"]
    errors = {v["name"]: v["errors"] for v in report["streams"] + report["photos"] if v["errors"]}
    assert not errors


def test_every_photo_visitor_got_results_or_a_clear_please_wait(report: dict) -> None:
    outcomes = {v["name"]: (v["photo"], v["outcome"]) for v in report["photos"]}
    assert all(outcome in ("results", "please-wait") for _, outcome in outcomes.values()), outcomes
    assert sum(outcome == "results" for _, outcome in outcomes.values()) >= 1, outcomes
    done = [v for v in report["photos"] if v["outcome"] == "results"]
    assert all(v["faces"] >= 1 and v["seconds"] >= v["heatmaps_s"] for v in done)


def test_every_camera_streams_or_is_told_to_wait_within_the_cap(report: dict) -> None:
    teacher, *pupils = report["streams"]
    # The teacher is never capped: its frames are analysed (how fast is the benchmark's, not this test's).
    assert teacher["outcome"] in ("streaming", "slow") and teacher["frames"] > 0, teacher
    outcomes = {v["name"]: v["outcome"] for v in pupils}
    # "stalled": admitted, its frames analysed, then the connection dropped on a busy machine (the benchmark
    # reports its rate); it still counts as the pupil who had the slot.
    # "connecting": its page still said "Connecting to the camera…" at the end, no frame analysed, nothing labelled
    # back (13 browsers on 2 cores can starve one WebRTC connection for the whole window): told to wait.
    allowed = ("streaming", "stalled", "over-cap note", "refused on video", "connecting")
    assert all(o in allowed for o in outcomes.values()), (outcomes, report["reasons"])
    assert all(v["frames"] > 0 for v in pupils if v["outcome"] == "stalled"), outcomes
    streaming = sum(o in ("streaming", "stalled") for o in outcomes.values())
    assert streaming <= report["pupil_stream_cap"], outcomes
    assert streaming == min(report["pupil_stream_cap"], len(pupils)), outcomes  # nobody waits while a slot is free
    for v in pupils:
        if v["outcome"] == "refused on video":  # the reason was on its video, and after Stop the page said it
            assert v["note_after_stop"], v["steps"]


def test_no_other_failure(report: dict) -> None:
    assert not _behaviour_reasons(report)
    print(f"\nclassroom load: photos median {report['summary']['photo_s_median']} s, p95 "
          f"{report['summary']['photo_s_p95']} s; teacher {report['summary']['teacher_fps']} frames/s; "
          f"server peak {report['server_vm_hwm_mb']} MB", file=sys.stderr)
