"""The class session's rules: the code, the slow-down for wrong codes, ending every pupil's session, the queue for
heavy work and the webcam cap (fer_core.classroom; the browser side is in tests/classroom/test_security.py)."""
from __future__ import annotations

import asyncio
import threading
import time

import pytest

from fer_core.classroom.access import CODE_ALPHABET, CODE_LENGTH, FREE_TRIES, Classroom, is_teacher, new_code
from fer_core.classroom.streams import LEASE_S, StreamSlots
from fer_core.classroom.upload_gate import UploadGate
from fer_core.classroom.work_queue import WorkQueue


def test_codes_are_random_short_and_readable() -> None:
    codes = {new_code() for _ in range(200)}
    assert len(codes) == 200  # no repeats in 200 draws from 23**6
    assert all(len(c) == CODE_LENGTH and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert not set(CODE_ALPHABET) & set("0O1IL2Z5S8B")  # nothing to misread off a projector


@pytest.mark.parametrize("ip, host, teacher", [
    (None, "localhost:8501", True), ("127.0.0.1", "127.0.0.1:8501", True), ("::1", "[::1]:8501", True),
    ("::ffff:127.0.0.1", "localhost", True),
    ("127.0.0.1", "127.0.0.2:8501", False),  # this computer, but at another address: a visitor (as in the tests)
    ("127.0.0.1", "192.168.1.10:8501", False),  # the teacher's laptop opening the pupils' address
    ("192.168.1.20", "localhost:8501", False),  # a pupil's phone claiming to be local in its Host header
    ("127.0.0.2", "localhost", False), ("not an address", "localhost", False), (None, None, False)])
def test_only_a_browser_on_this_computer_at_localhost_is_the_teacher(ip, host, teacher) -> None:
    assert is_teacher(ip, host) is teacher


def test_right_code_admits_this_browser_session_only() -> None:
    room = Classroom(code="K7RMXA")
    assert room.needs_code("10.0.0.5", "x:1", "tab-1") and room.needs_code("10.0.0.5", "x:1", "tab-2")
    assert not room.needs_code("127.0.0.1", "localhost:8501", "teacher-tab")  # the teacher needs none
    verdict = room.try_code("10.0.0.5", "tab-1", " k7r-mxa ")  # as a pupil may type it
    assert verdict.admitted
    assert not room.needs_code("10.0.0.5", "x:1", "tab-1") and room.needs_code("10.0.0.5", "x:1", "tab-2")


def test_wrong_codes_are_refused_then_slowed_down() -> None:
    room = Classroom(code="K7RMXA")
    now = 1000.0
    for _ in range(FREE_TRIES):
        verdict = room.try_code("10.0.0.5", "tab", "AAAAAA", now=now)
        assert not verdict.admitted and verdict.wait_s == 0
    waits = []
    for _ in range(3):
        verdict = room.try_code("10.0.0.5", "tab", "AAAAAA", now=now)
        assert not verdict.admitted and verdict.wait_s > 0
        waits.append(verdict.wait_s)
        blocked = room.try_code("10.0.0.5", "tab", "K7RMXA", now=now + verdict.wait_s / 2)
        assert not blocked.admitted, "even the right code waits out the pause"
        now += verdict.wait_s + 0.01
    assert waits == sorted(waits) and waits[-1] > waits[0], "each further wrong code waits longer"
    assert room.try_code("10.0.0.6", "other", "K7RMXA", now=now).admitted, "another visitor is not held up"
    assert room.try_code("10.0.0.5", "tab", "K7RMXA", now=now).admitted


def test_ending_every_pupil_session_changes_the_code() -> None:
    room = Classroom(code="K7RMXA")
    assert room.try_code("10.0.0.5", "tab", "K7RMXA").admitted
    new = room.end_every_pupil_session()
    assert new != "K7RMXA" and room.current_code() == new
    assert room.needs_code("10.0.0.5", "x:1", "tab")
    assert not room.try_code("10.0.0.5", "tab", "K7RMXA").admitted, "the old code no longer works"
    assert room.try_code("10.0.0.5", "tab", new).admitted


def test_the_teacher_panel_counts_only_open_pupil_pages() -> None:
    room = Classroom(code="K7RMXA")
    for tab in ("a", "b"):
        assert room.try_code("10.0.0.5", tab, "K7RMXA", now=100.0).admitted
    connected = {"a", "b", "stranger"}  # "stranger" never entered the code: not counted
    assert room.pupils_in(connected.__contains__) == 2
    connected.discard("b")
    assert room.pupils_in(connected.__contains__) == 1, "tab b was closed"


def test_an_off_session_needs_no_code() -> None:
    assert not Classroom(enabled=False).needs_code("10.0.0.5", "x:1", "tab")


def _upload(gate: UploadGate, client: str, session: str, server: str = "127.0.0.2") -> int:
    sent: list[dict] = []

    async def app(scope, receive, send):  # Streamlit's upload handler, standing in
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b"x", "more_body": False}

    gate.app = app
    scope = {"type": "http", "method": "PUT", "path": f"/_stcore/upload_file/{session}/file-1",
             "client": (client, 50000), "server": (server, 8501)}
    asyncio.run(gate(scope, receive, send))
    return sent[0]["status"]


def test_uploads_need_the_code_except_from_the_teacher() -> None:
    room = Classroom(code="K7RMXA")
    gate = UploadGate(None, room=room)
    assert _upload(gate, "127.0.0.1", "tab") == 403  # a browser on this computer at 127.0.0.2
    assert _upload(gate, "10.0.0.5", "tab", server="127.0.0.1") == 403
    assert _upload(gate, "127.0.0.1", "teacher-tab", server="127.0.0.1") == 204
    room.try_code("127.0.0.1", "tab", "K7RMXA")
    assert _upload(gate, "127.0.0.1", "tab") == 204
    assert _upload(gate, "127.0.0.1", "another-tab") == 403


def test_heavy_work_takes_turns_teacher_first_and_says_how_many_are_ahead() -> None:
    queue = WorkQueue(workers=1)
    order: list[str] = []
    seen_ahead: dict[str, list[int]] = {}
    release = threading.Event()
    started = threading.Event()

    def first() -> None:
        with queue.turn("pupil-0"):
            started.set()
            release.wait(5)
            order.append("pupil-0")

    def job(name: str, teacher: bool = False) -> None:
        seen_ahead[name] = []
        with queue.turn(name, teacher=teacher, on_wait=seen_ahead[name].append):
            with queue.turn(name):  # re-entrant: nested heavy work does not queue behind itself
                order.append(name)

    threads = [threading.Thread(target=first)]
    threads[0].start()
    started.wait(5)
    for name in ("pupil-1", "pupil-2"):
        threads.append(threading.Thread(target=job, args=(name,)))
        threads[-1].start()
        time.sleep(0.1)
    threads.append(threading.Thread(target=job, args=("teacher", True)))
    threads[-1].start()
    time.sleep(0.4)
    assert queue.busy() == (1, 3)
    release.set()
    for t in threads:
        t.join(5)
    assert order == ["pupil-0", "teacher", "pupil-1", "pupil-2"]
    assert seen_ahead["pupil-2"][0] == 2 and seen_ahead["pupil-2"][-1] == 0  # "2 ahead of you", then cleared
    assert seen_ahead["teacher"][0] == 1  # only the running job is ahead of the teacher


def test_webcam_cap_lets_the_teacher_in_and_frees_stopped_streams() -> None:
    slots = StreamSlots(pupil_cap=2)
    t = 100.0
    assert slots.claim("a", now=t) and slots.claim("b", now=t)
    assert not slots.can_start("c", now=t) and not slots.claim("c", now=t)
    assert slots.claim("teacher", teacher=True, now=t), "the teacher's stream is never capped"
    assert slots.claim("a", now=t + 1), "a live stream keeps its slot"
    assert slots.live(now=t + 1) == (1, 2)
    later = t + LEASE_S + 0.5  # "b" sent no frame since t: its slot is free
    assert slots.claim("a", now=later - 1)
    assert slots.can_start("c", now=later) and slots.claim("c", now=later)
    assert slots.claim("teacher", teacher=True, now=later)
    slots.release_pupils()  # the teacher ended every pupil's session
    assert slots.live(now=later) == (1, 0)
