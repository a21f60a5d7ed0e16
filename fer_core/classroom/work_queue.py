"""One queue for the heavy work of every browser session (heatmaps, trust checks, clips), so that a class
sharing one laptop takes turns instead of all slowing down at once, and each visitor can be told how many are
ahead. On 2 cores one job at a time, with both cores, finishes everyone's work soonest (measured in
`tests/classroom/test_load.py`).

The teacher's work goes before any pupil's that is still waiting. Turns are re-entrant per thread: heavy work
that calls more heavy work does not queue behind itself. The lock-free parts are thread-local only.
"""
from __future__ import annotations

import itertools
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

POLL_S = 0.25  # how often a waiting visitor's "N ahead of you" is refreshed


@dataclass(order=True)
class _Ticket:
    rank: tuple[int, int]  # (0 for the teacher, 1 for a pupil; arrival number): lower goes first
    owner: str = field(compare=False)


class WorkQueue:
    """First come, first served, the teacher first, `workers` jobs at a time."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self._cond = threading.Condition()
        self._waiting: list[_Ticket] = []
        self._running: list[str] = []
        self._arrivals = itertools.count()
        self._local = threading.local()

    @contextmanager
    def turn(self, owner: str = "", teacher: bool = False,
             on_wait: Callable[[int], None] | None = None) -> Iterator[None]:
        """Wait for this caller's turn, then run the body. While waiting, `on_wait(ahead)` is called with the
        number of jobs before this one (running or waiting), at least every `POLL_S`, and once with 0 when
        the wait is over (so a "please wait" note can be cleared)."""
        depth = getattr(self._local, "depth", 0)
        if depth:  # already holding a turn in this thread
            self._local.depth = depth + 1
            try:
                yield
            finally:
                self._local.depth = depth
            return
        ticket = _Ticket((0 if teacher else 1, next(self._arrivals)), owner)
        waited = False
        with self._cond:
            self._waiting.append(ticket)
            self._waiting.sort()
            try:
                while True:
                    position = self._waiting.index(ticket)
                    if position == 0 and len(self._running) < self.workers:
                        break
                    if on_wait is not None:
                        waited = True
                        ahead = position + len(self._running)
                        self._cond.release()
                        try:  # never call out with the lock held: the callback draws on a page
                            on_wait(ahead)
                        finally:
                            self._cond.acquire()
                    self._cond.wait(POLL_S)
            finally:
                self._waiting.remove(ticket)
            self._running.append(owner)
        if waited and on_wait is not None:
            on_wait(0)
        self._local.depth = 1
        try:
            yield
        finally:
            self._local.depth = 0
            with self._cond:
                self._running.remove(owner)
                self._cond.notify_all()

    def busy(self) -> tuple[int, int]:
        """(running, waiting), for the teacher's screen."""
        with self._cond:
            return len(self._running), len(self._waiting)


HEAVY_WORK = WorkQueue(workers=1)  # the server's one queue (one job at a time: it uses both cores itself)
