"""Who may use a class session: the teacher's own browser (on this computer), and browser sessions that have
entered the session's short code. Wrong codes are slowed down per visitor; the teacher can end every pupil's
session at once, which also changes the code.

One `Classroom` object lives in the server process and is shared by every browser session's thread, so every
method takes its lock. Nothing is written to disk.
"""
from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

CODE_ALPHABET = "ACDEFHJKMNPRTUVWXY34679"  # no 0/O, 1/I/L, 2/Z, 5/S, 8/B: easy to read off a projector
CODE_LENGTH = 6  # 23**6 ~ 1.5e8 codes; with the slow-down below, guessing one takes years
CLASSROOM_ENV = "FER_LENS_CLASSROOM"  # "1": served beyond localhost, codes required (set by `fer-lens serve`)
CODE_ENV = "FER_LENS_ACCESS_CODE"  # the first code, chosen by `fer-lens serve` so it can print it
URL_ENV = "FER_LENS_CLASSROOM_URL"  # the address pupils open, for the teacher's screen and its QR code
FREE_TRIES = 3  # wrong codes before the waits start (typos happen)
FIRST_WAIT_S = 5.0  # then 5 s, 10 s, 20 s ... up to MAX_WAIT_S between tries
MAX_WAIT_S = 300.0
WRONG_CODE_DELAY_S = 1.0  # every wrong code also answers only after this long


def new_code() -> str:
    """A fresh random code, for the start of a session or after the teacher ends every pupil's session."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise(code: str) -> str:
    """What a pupil typed, as the code is written: capitals, no spaces or dashes."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


LOCAL_NAMES = {"localhost", "127.0.0.1", "::1"}  # how the teacher's own browser reaches this computer


def host_name(host_header: str | None) -> str | None:
    """The host part of a Host header ("127.0.0.2:8501" -> "127.0.0.2", "[::1]:8501" -> "::1")."""
    if not host_header:
        return None
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host[1:]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_teacher(ip: str | None, host: str | None) -> bool:
    """The teacher's browser runs on this computer and opens localhost: it connects from 127.0.0.1 or ::1
    (Streamlit reports that as no address at all) to localhost, 127.0.0.1 or ::1. Every other browser is a
    visitor, including one on this computer that opens the network address (or 127.0.0.2, as the tests do),
    and a remote one cannot pass for local by its Host header, since its own address gives it away."""
    if ip is not None:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        if address.version == 6 and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if str(address) not in {"127.0.0.1", "::1"}:
            return False
    return host_name(host) in LOCAL_NAMES


@dataclass
class _Tries:
    wrong: int = 0
    not_before: float = 0.0  # monotonic time before which this visitor may not try again


@dataclass(frozen=True)
class Verdict:
    admitted: bool
    wait_s: float = 0.0  # > 0: this visitor must wait this long before the next try
    message: str = ""


@dataclass
class Classroom:
    """The class session's code, the admitted browser sessions and the per-visitor slow-down."""

    code: str = field(default_factory=new_code)
    enabled: bool = True
    url: str = ""
    _admitted: set[str] = field(default_factory=set)  # browser sessions that entered the code
    _tries: dict[str, _Tries] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_environment(cls) -> "Classroom":
        """The server's session: on when `fer-lens serve --classroom` started it, with the code it printed."""
        enabled = os.environ.get(CLASSROOM_ENV, "") == "1"
        code = normalise(os.environ.get(CODE_ENV, "")) or new_code()
        return cls(code=code, enabled=enabled, url=os.environ.get(URL_ENV, ""))

    def current_code(self) -> str:
        with self._lock:
            return self.code

    def needs_code(self, ip: str | None, host: str | None, session_id: str) -> bool:
        """Whether this browser session must still enter the code before any page runs."""
        if not self.enabled or is_teacher(ip, host):
            return False
        with self._lock:
            return session_id not in self._admitted

    def is_admitted(self, session_id: str) -> bool:
        with self._lock:
            return session_id in self._admitted

    def try_code(self, ip: str | None, session_id: str, typed: str, now: float | None = None) -> Verdict:
        """Check a typed code. A wrong one counts against the visitor's address (not the browser session, which a
        reload renews), and after `FREE_TRIES` each further try must wait twice as long as the last."""
        now = time.monotonic() if now is None else now
        visitor = ip or "local"
        with self._lock:
            tries = self._tries.setdefault(visitor, _Tries())
            if now < tries.not_before:
                wait = tries.not_before - now
                return Verdict(False, wait, f"Too many wrong codes. Please wait {wait:.0f} s, then try again.")
            if hmac.compare_digest(normalise(typed).encode(), self.code.encode()):
                self._admitted.add(session_id)
                self._tries.pop(visitor, None)
                return Verdict(True)
            tries.wrong += 1
            extra = tries.wrong - FREE_TRIES
            wait = min(MAX_WAIT_S, FIRST_WAIT_S * 2 ** (extra - 1)) if extra > 0 else 0.0
            tries.not_before = now + wait
        message = "That is not the code on the teacher's screen."
        if wait:
            message += f" Please wait {wait:.0f} s before the next try."
        return Verdict(False, wait, message)

    def end_every_pupil_session(self) -> str:
        """Send every pupil back to the code form, with a new code (so an old one cannot be reused). Returns it."""
        with self._lock:
            self._admitted.clear()
            self._tries.clear()
            self.code = new_code()
            return self.code

    def pupils_in(self, is_open: Callable[[str], bool]) -> int:
        """Admitted pupils' browser sessions that `is_open` says are still connected (closed tabs drop out)."""
        with self._lock:
            sessions = list(self._admitted)
        return sum(1 for session in sessions if is_open(session))


_CLASSROOM: Classroom | None = None
_CLASSROOM_LOCK = threading.Lock()


def classroom() -> Classroom:
    """The one `Classroom` of this server process (read from the environment on first use)."""
    global _CLASSROOM
    with _CLASSROOM_LOCK:
        if _CLASSROOM is None:
            _CLASSROOM = Classroom.from_environment()
        return _CLASSROOM
