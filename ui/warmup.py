"""Warm-up at server start: `streamlit run app.py` finds the `st.App` in app.py, whose lifespan starts this in a
background thread before the first visitor arrives. It loads the default recognizer into the shared resource cache
(the very objects the pages then use) and runs the sample photo through it, which needs no torch (ONNX Runtime graph
twins); then it loads torch and the torch model, imports Captum and runs a heatmap and its trust check. Nothing is
written anywhere.

The second half waits while a visitor's browser is loading the page (`VisitorActivity`). Importing torch takes a
core for about two seconds, and on 2 cores it slowed the browser's first load by as much: launch to the sample's
first label took a median 4.0 s with torch loading at once and 3.3 s with it held back for 6 s (5 interleaved pairs,
`tests/app/test_browser.py`'s start-up, 2026-12-02). So torch loads as soon as nobody is loading a page, or when a
page first needs a heatmap, whichever comes first, and at the latest `MAX_HOLD_S` after the labels are ready."""
from __future__ import annotations

import math
import os
import threading
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Awaitable, Callable

from streamlit.logger import get_logger

# Idle OpenMP threads sleep rather than spin. The browser shares this computer's cores with the server; with
# spinning threads (OpenMP's default) the 6-face photo's heatmaps took 2.0 s after the upload instead of 1.6,
# because waiting torch threads kept a core from the browser and from each other (`tests/app/test_browser.py`).
# Alone the heavy work is ~7% slower. It must be set before torch loads, which is why it is here: streamlit
# imports this module (through app.py) as the server starts, before the warm-up imports torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

_LOG = get_logger(__name__)  # Streamlit's logger: its level and format, in the server's console
done = threading.Event()  # set when the warm-up has finished (or failed: the pages then load lazily)

QUIET_S = 1.0  # a browser that has asked for nothing for this long has finished loading its page
MAX_HOLD_S = 8.0  # the torch half of the warm-up waits for a quiet moment at most this long
# Asked for by the test harness and load balancers, not by a visitor's browser loading a page.
NOT_A_VISIT = ("/_stcore/health", "/_stcore/script-health-check")


class Activity:
    """When a visitor last asked the server for something: a page file, the app's connection or a page run."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._last: float | None = None

    def touch(self) -> None:
        with self._lock:
            self._last = self._clock()

    def quiet_for(self) -> float:
        """Seconds since the last request; infinite if no visitor has come yet."""
        with self._lock:
            return math.inf if self._last is None else self._clock() - self._last

    def wait_for_quiet(self, quiet_s: float = QUIET_S, max_s: float = MAX_HOLD_S,
                       sleep: Callable[[float], None] = time.sleep) -> float:
        """Block until nobody has asked for anything for `quiet_s` seconds, or `max_s` have passed; returns the
        seconds waited."""
        start = self._clock()
        while self.quiet_for() < quiet_s and self._clock() - start < max_s:
            sleep(0.05)
        return self._clock() - start


activity = Activity()  # the server's; one per process, as the warm-up is


def note_page_run() -> None:
    """Called at the start of every page run (app.py): a run counts as a visitor's activity."""
    activity.touch()


class VisitorActivity:
    """ASGI middleware (`Middleware(VisitorActivity)`) that notes every request of a visitor's browser in
    `activity`; it changes nothing in the request."""

    def __init__(self, app: Callable[..., Awaitable[None]], meter: Activity | None = None) -> None:
        self.app = app
        self.meter = meter or activity

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope.get("type") in ("http", "websocket") and not scope.get("path", "").endswith(NOT_A_VISIT):
            self.meter.touch()
        await self.app(scope, receive, send)


def warm_up() -> None:
    """Load and exercise what the first visit needs; failures are logged, never raised."""
    start = time.perf_counter()
    try:
        # First what the sample's first label needs (recognition and the face cards' code), then the heatmaps'
        # libraries (Captum) and code.
        from fer_core.detection.registry import DEFAULT_DETECTOR
        from fer_core.model.catalog import default_model
        from fer_core.samples import sample_photo_png, sample_photo_rgb
        from ui import figures, photo_view  # noqa: F401 - the face cards' code (Captum comes later)
        from ui.resources import _recognizer

        recognizer = _recognizer(DEFAULT_DETECTOR, default_model())
        faces = recognizer.analyze_rgb(sample_photo_rgb())
        sample_photo_png()  # the bytes "Analyse this sample photo" hands the Photo page (cached)
        _LOG.info("FER Lens: labels ready %.1f s after start", time.perf_counter() - start)
        held = activity.wait_for_quiet()  # not while a browser loads a page (see above)
        if recognizer.torch_loaded:  # a page needed a heatmap first and loaded (and ran) all of it already
            _LOG.info("FER Lens warmed up in %.1f s (a page that needed a heatmap had loaded the model)",
                      time.perf_counter() - start)
            return
        recognizer.loaded  # torch and the torch model, which the heatmaps need
        _LOG.info("FER Lens: model ready %.1f s after start (held back %.1f s while a page loaded)",
                  time.perf_counter() - start, held)

        import numpy as np

        from fer_core.explain.attribution import check_faithfulness_many, explain_crops
        from fer_core.explain.registry import DEFAULT_METHOD

        if faces:
            crops = np.stack([f.crop for f in faces])
            check_faithfulness_many(recognizer.loaded, crops, explain_crops(recognizer.loaded, crops,
                                                                            DEFAULT_METHOD))
        _LOG.info("FER Lens warmed up in %.1f s", time.perf_counter() - start)
    except Exception:  # noqa: BLE001 - a warm-up must never stop the server
        _LOG.exception("warm-up failed; the model will load on first use")
    finally:
        done.set()


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """The st.App lifespan: start the warm-up beside the server, and serve at once."""
    threading.Thread(target=warm_up, name="fer-lens-warmup", daemon=True).start()
    yield
