"""The cap on live webcam streams that one laptop analyses at once, with the teacher's stream always let in.

A stream holds a slot while its frames keep arriving: each analysed frame renews the lease, and a stream whose
frames stopped (tab closed, camera stopped, connection lost) frees its slot after `LEASE_S` without any call
from it. The cap counts pupils only; the teacher's stream never waits and is never counted against them.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

LEASE_S = 4.0  # a stream without frames for this long has stopped
# Pupils' live webcams at once, chosen by measurement (`python -m tests.classroom.load_test`, docs/classroom.md):
# on 2 cores the teacher's stream kept >= 15 frames/s (18-22) with one pupil's stream beside it (7-8 frames/s),
# and fell to about 11 with two. FER_LENS_PUPIL_STREAMS overrides it for a faster computer.
PUPIL_STREAMS = int(os.environ.get("FER_LENS_PUPIL_STREAMS", "1"))


@dataclass
class StreamSlots:
    pupil_cap: int = PUPIL_STREAMS
    _leases: dict[str, tuple[bool, float]] = field(default_factory=dict)  # session -> (teacher, last frame)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _expire(self, now: float) -> None:
        for owner, (_, seen) in list(self._leases.items()):
            if now - seen > LEASE_S:
                del self._leases[owner]

    def claim(self, owner: str, teacher: bool = False, now: float | None = None) -> bool:
        """Hold or renew `owner`'s slot for one more frame; False when every pupil slot is taken by others."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._expire(now)
            if owner in self._leases or teacher or self._pupils() < self.pupil_cap:
                self._leases[owner] = (teacher, now)
                return True
            return False

    def can_start(self, owner: str, teacher: bool = False, now: float | None = None) -> bool:
        """Whether a new stream of `owner` would be let in now (the page asks before offering the camera)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._expire(now)
            return teacher or owner in self._leases or self._pupils() < self.pupil_cap

    def release_pupils(self) -> None:
        """The teacher ended every pupil's session: their streams stop counting at once."""
        with self._lock:
            self._leases = {o: lease for o, lease in self._leases.items() if lease[0]}

    def live(self, now: float | None = None) -> tuple[int, int]:
        """(teacher streams, pupil streams) live now."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._expire(now)
            pupils = self._pupils()
            return len(self._leases) - pupils, pupils

    def _pupils(self) -> int:
        return sum(1 for teacher, _ in self._leases.values() if not teacher)


STREAM_SLOTS = StreamSlots()  # the server's one set of slots
