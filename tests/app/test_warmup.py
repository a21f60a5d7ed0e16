"""The warm-up's hold (ui/warmup.py): torch loads only once no visitor's browser is busy loading a page, and at the
latest after `MAX_HOLD_S`; the middleware that notices visitors passes every request on unchanged."""
from __future__ import annotations

import asyncio
import math

import pytest

from ui.warmup import MAX_HOLD_S, QUIET_S, Activity, VisitorActivity


class FakeClock:
    """A clock that only moves when the code under test sleeps, so the waits are exact and instant."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


def test_no_visitor_means_no_wait() -> None:
    clock = FakeClock()
    activity = Activity(clock)
    assert activity.quiet_for() == math.inf
    assert activity.wait_for_quiet(sleep=clock.sleep) == 0 and clock.slept == 0


def test_a_loading_page_holds_the_warm_up_until_it_goes_quiet() -> None:
    clock = FakeClock()
    activity = Activity(clock)
    activity.touch()
    clock.sleep(0.3)
    assert activity.quiet_for() == pytest.approx(0.3)
    waited = activity.wait_for_quiet(sleep=clock.sleep)
    assert QUIET_S - 0.3 <= waited < QUIET_S - 0.3 + 0.1  # polled every 50 ms
    assert activity.quiet_for() >= QUIET_S


def test_a_page_that_never_goes_quiet_is_waited_for_at_most_max_hold() -> None:
    clock = FakeClock()
    activity = Activity(clock)

    def busy_sleep(seconds: float) -> None:  # a visitor asking for something every 50 ms, for ever
        clock.sleep(seconds)
        activity.touch()

    activity.touch()
    waited = activity.wait_for_quiet(sleep=busy_sleep)
    assert MAX_HOLD_S <= waited < MAX_HOLD_S + 0.1


def run_request(path: str, kind: str = "http") -> tuple[Activity, list[dict]]:
    """One request through the middleware; returns the meter and the scopes the app behind it saw."""
    clock = FakeClock()
    meter = Activity(clock)
    seen: list[dict] = []

    async def app(scope, receive, send) -> None:
        seen.append(scope)

    scope = {"type": kind, "path": path}
    asyncio.run(VisitorActivity(app, meter)(scope, None, None))
    assert seen == [scope]
    return meter, seen


def test_page_files_and_the_app_connection_count_as_a_visit() -> None:
    for path, kind in [("/", "http"), ("/static/js/index.js", "http"), ("/_stcore/stream", "websocket"),
                       ("/photo", "http")]:
        meter, _ = run_request(path, kind)
        assert meter.quiet_for() == 0, path


def test_health_checks_and_server_events_do_not() -> None:
    for path, kind in [("/_stcore/health", "http"), ("/_stcore/script-health-check", "http"), ("", "lifespan")]:
        meter, _ = run_request(path, kind)
        assert meter.quiet_for() == math.inf, path
