"""Shared by the real-browser tests: Debian's Chromium via Playwright, a `streamlit run app.py` on a free
local port, waiting for the app to settle, and full-page screenshots.

Needs: `apt-get install -y chromium` and `pip install playwright` (never `playwright install`).
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

from fer_core.explain.registry import DEFAULT_METHOD, METHODS
from tests.app.app_support import model_env
from tests.conftest import REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
SHOTS = Path(os.environ.get("FER_LENS_SCREENSHOTS", REPO / "screenshots"))
DEFAULT_HEATMAP = re.compile(f"{METHODS[DEFAULT_METHOD].title} heatmap")  # the caption under each face's map
SANITY_S = 60  # loose bound: a run this slow is broken, not merely slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError("streamlit did not become healthy")


def settle(page, quiet_ms: int = 400, timeout_s: float = SANITY_S) -> None:
    """Wait until the app has stopped running (Streamlit's status widget gone for `quiet_ms`)."""
    deadline = time.monotonic() + timeout_s
    status = page.locator('[data-testid="stStatusWidget"]')
    quiet_since = None
    while time.monotonic() < deadline:
        if status.count() == 0:
            quiet_since = quiet_since or time.monotonic()
            if (time.monotonic() - quiet_since) * 1000 >= quiet_ms:
                return
        else:
            quiet_since = None
        page.wait_for_timeout(50)
    raise TimeoutError("the app kept running")


CONTENT_HEIGHT_JS = """() => Math.max(document.body.scrollHeight,
    ...Array.from(document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"]'))
        .map(e => e.scrollHeight))"""


def wait_for_charts(page, timeout_s: float = 15) -> None:
    """Streamlit loads the chart and table components lazily, showing grey skeletons meanwhile: wait until
    no skeleton is left and every chart holds a drawn plot, so screenshots never show grey boxes."""
    skeletons = page.locator('[data-testid="stSkeleton"]')
    charts = page.locator('[data-testid="stPlotlyChart"]')
    drawn = page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot')
    deadline = time.monotonic() + timeout_s
    while (skeletons.count() or drawn.count() < charts.count()) and time.monotonic() < deadline:
        page.wait_for_timeout(100)


def shoot(page, name: str) -> Path:
    """A screenshot of the whole page. Streamlit scrolls inside its main area, not the document, so the
    viewport is stretched to the content height first (a plain full-page shot would stop at the fold)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    size = page.viewport_size
    height = min(int(page.evaluate(CONTENT_HEIGHT_JS)), 12000)
    page.set_viewport_size({"width": size["width"], "height": max(height, size["height"])})
    wait_for_charts(page)
    page.wait_for_timeout(500)  # let charts re-lay out
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path


def wait_count(page, locator, n: int, timeout_s: float = SANITY_S) -> int:
    """Poll until `locator` matches at least `n` elements (or time runs out); the final count."""
    deadline = time.monotonic() + timeout_s
    while locator.count() < n and time.monotonic() < deadline:
        page.wait_for_timeout(20)
    return locator.count()



# ---- timing what the page shows ------------------------------------------------------------------------------

# Playwright's waits look with a backoff that ends at one look every 500 ms (`waitForSelector`), so a wait can
# return up to half a second after the page showed what it waited for, and its click comes as late. Timed spans
# therefore end when the page itself showed it: a MutationObserver, installed before the page's scripts, notes
# the first moment each watched text is in the document (Date.now(): the clock of Python's time.time()).
WATCH_JS = r"""(() => {
  if (window.__ferLensWatch) return;
  const watches = [];  // {name, re, count, images} still waited for
  const clicks = [];  // {name, label}: buttons to press once drawn
  window.__ferLensShown = {};
  const look = () => {
    if (!document.body) return;
    if (watches.length) {
      const text = document.body.textContent;  // no layout: a look stays cheap
      const pictures = Array.from(document.querySelectorAll("img"));
      const drawn = pictures.every(i => i.complete && i.naturalWidth > 0);
      for (const w of watches.slice()) {
        if ((text.match(w.re) || []).length >= w.count && (!w.images || drawn)) {
          window.__ferLensShown[w.name] = Date.now() / 1000;
          watches.splice(watches.indexOf(w), 1);
        }
      }
    }
    for (const c of clicks.slice()) {
      const button = Array.from(document.querySelectorAll("button")).find(b => b.textContent.includes(c.label));
      if (!button) continue;
      clicks.splice(clicks.indexOf(c), 1);
      window.__ferLensShown[c.name] = Date.now() / 1000;
      requestAnimationFrame(() => setTimeout(() => button.click(), 0));  // once painted, as a visitor would
    }
  };
  window.__ferLensWatch = (name, source, count, images) => {
    watches.push({name, re: new RegExp(source, "g"), count, images}); look(); };
  window.__ferLensClickWhenShown = (name, label) => { clicks.push({name, label}); look(); };
  const start = () => new MutationObserver(look).observe(document.documentElement,
                                                         {subtree: true, childList: true, characterData: true});
  if (document.documentElement) start(); else document.addEventListener("DOMContentLoaded", start);
  document.addEventListener("load", look, true);  // a picture that finishes loading changes no text
})();"""


def watch_pages(page) -> None:
    """Install the page clock (`WATCH_JS`) in every document `page` loads from now on."""
    page.add_init_script(WATCH_JS)


def watch_code(name: str, pattern: str, count: int = 1, images: bool = False) -> str:
    """Page code that notes when the page's text first holds `count` matches of `pattern` (a JavaScript regular
    expression), and with `images` every picture on the page has loaded as well: for `page.evaluate`, or for
    `page.add_init_script` to watch a page that is yet to load."""
    return f"window.__ferLensWatch({json.dumps(name)}, {json.dumps(pattern)}, {int(count)}, {json.dumps(images)});"


def watch(page, name: str, pattern: str, count: int = 1, images: bool = False) -> None:
    """`watch_code` on the page as it is now."""
    page.evaluate(f"() => {{ {watch_code(name, pattern, count, images)} }}")


def click_when_shown_code(name: str, label: str) -> str:
    """Page code for `page.add_init_script`: press the button whose text holds `label` as soon as it is drawn
    (a visitor who clicks at once), noting when it was drawn under `name`."""
    return f"window.__ferLensClickWhenShown({json.dumps(name)}, {json.dumps(label)});"


def shown_at(page, name: str, timeout_s: float = SANITY_S) -> float:
    """The time.time() at which the page first showed watch `name` (waiting for it if need be)."""
    script = f"() => window.__ferLensShown && window.__ferLensShown[{json.dumps(name)}]"
    return float(page.wait_for_function(script, timeout=timeout_s * 1000).json_value())


@contextlib.contextmanager
def streamlit_app(log: Path, extra_env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """`streamlit run app.py` on a free 127.0.0.1 port, healthy on entry, stopped on exit; yields (url, proc)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, **model_env(), "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless=true",
           "--server.address=127.0.0.1", f"--server.port={port}", "--browser.gatherUsageStats=false",
           "--server.fileWatcherType=none"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_healthy(url, proc)
            yield url, proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    if proc.returncode not in (0, -15, None):
        print(log.read_text()[-3000:], file=sys.stderr)


WIDE, NARROW = {"width": 1280, "height": 720}, {"width": 768, "height": 1024}  # a projector, a tablet


def both_widths(page, name: str) -> None:
    """Screenshots `name` at the projector's width and `name`-768 at a tablet's, back to the first after."""
    shoot(page, name)
    page.set_viewport_size(NARROW)
    settle(page)
    shoot(page, f"{name}-768")
    page.set_viewport_size(WIDE)
    settle(page)


def open_via_navigation(browser, url: str, link: str, viewport: dict, **options):
    """A new page that goes through Home and the navigation link `link`, as a visitor would, and waits until
    that page's uploader is ready."""
    page = browser.new_page(viewport=viewport, **options)
    page.goto(url)
    page.get_by_role("link", name=link).click()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').wait_for(state="attached", timeout=SANITY_S * 1000)
    settle(page)
    return page


def write_y4m(video: Path, out: Path, seconds: float = 5.0, size: tuple[int, int] = (640, 480)) -> Path:
    """The first `seconds` of `video`, letterboxed to `size`, as a Y4M file (what Chromium's fake camera reads)."""
    import av
    import numpy as np

    from fer_core.imageio import letterbox

    w, h = size
    with av.open(str(video)) as container, open(out, "wb") as f:
        stream = container.streams.video[0]
        f.write(f"YUV4MPEG2 W{w} H{h} F30:1 Ip A1:1 C420jpeg\n".encode())
        for frame in container.decode(stream):
            if frame.time is not None and frame.time >= seconds:
                break
            rgb, _ = letterbox(frame.to_ndarray(format="rgb24"), size)
            yuv = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p").to_ndarray()
            f.write(b"FRAME\n" + np.ascontiguousarray(yuv).tobytes())
    return out
