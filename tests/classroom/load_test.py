"""A class on one laptop, under load (issue #21, item 4): a real classroom server and real browsers, on the
loopback addresses, all at once, bounded in time and stopping by itself (about 2.5 minutes; at most
`--seconds` + 105 s, whatever happens).

    python -m tests.classroom.load_test [--seconds 75] [--pupil-streams N] [--photos 8]
                                        [--out screenshots/classroom_load.json]

What it starts:
- `streamlit run app.py` as `fer-lens serve --classroom` runs it: HTTPS with a self-signed certificate made in a
  temporary folder, FER_LENS_CLASSROOM=1 and a known access code (and FER_LENS_PUPIL_STREAMS=N with
  --pupil-streams). It listens on 0.0.0.0 like a class session (one socket cannot take both 127.0.0.1 and
  127.0.0.2), but every browser below opens a loopback address only;
- two headless Chromiums whose fake cameras play a real clip (../shared/media/videos, as a .y4m in the temporary
  folder): one for the teacher (on this computer in a real class too) and one for the pupils (on their own
  devices in a real class), with a browser context (its own cookies, so its own Streamlit session) per visitor;
- the visitors: the teacher at https://127.0.0.1:PORT/webcam (no code); 4 pupils with cameras at
  https://127.0.0.2:PORT/webcam (Linux routes 127.0.0.0/8 to this computer) and 8 pupils at
  https://127.0.0.2:PORT/photo, who type the code first. Everyone joins; then, at one moment, every camera is
  started and every photo uploaded (a different real photo each, single faces and group photos), and the
  window of `--seconds` opens.

What it measures (written to the JSON, and a short table printed):
- per photo: seconds from the upload to every face's heatmap, and to every trust note (median and p95); whether
  the visitor was shown "N ahead of you" (and the largest N);
- per stream: analysed frames per second from the page's own "Frames analysed" counter over the steady window
  (the last `--steady` seconds), and also while the photos were being analysed and after; how long that counter
  stood still at most; the frames the browser's camera really sent and got back (WebRTC's own counts); which
  pupils were told to wait by the cap (its note instead of the player, or the reason written on their video);
- the server's peak resident memory (VmHWM), and the CPU used by the server, each browser and the machine;
- every Streamlit exception, error box or uncaught page error on any page.

Exit 0 only when nobody got an error, every visitor got results or a clear "please wait", no more pupils
streamed than the cap, and the teacher's stream kept >= 15 frames/s over the steady window; 1 otherwise, with
the reasons. The browsers share the server's CPU here, which a real class's phones do not (their share is in
the report): the figures are on the safe side. The measurements behind the webcam cap are in docs/classroom.md.

Needs: `apt-get install -y chromium`, `pip install playwright` (never `playwright install`), and the shared media.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fer_core.paths import REPO_DIR, shared_dir
from tests.app.browser_support import CHROMIUM, free_port, write_y4m

CODE = "KEY346"  # the session's access code (letters and digits of CODE_ALPHABET)
VIDEO = ("media", "videos", "liveportrait_d3.mp4")  # the fake camera: a real face, 5 s, looped by Chromium
# one photo per photo visitor, all different: single faces and group photos
PHOTOS = ("faceapi_bbt1.jpg", "faceapi_bbt2.jpg", "faceapi_happy.jpg", "faceapi_sad.jpg", "faceapi_angry.jpg",
          "faceapi_surprised.jpg", "faceapi_neutral.jpg", "faceapi_disgusted.jpg")
STREAM_PUPILS = 4
TEACHER_MIN_FPS = 15.0  # issue #21: the teacher's stream keeps at least this
USABLE_PUPIL_FPS = 8.0  # below this a pupil's live labels stop feeling live (the cap is chosen so they keep it)
WINDOW_S = 75.0  # the measured window: 8 photos take 25-55 s on 2 cores next to the webcams, then a steady stretch
STEADY_S = 20.0  # frames/s are measured over the last this-many seconds of the window
START_BOUND_S = 60.0  # the server answers its health check within this (model loading on a busy CPU)
JOIN_BOUND_S = 60.0  # a page shows its first element within this
PHOTO_GRACE_S = 20.0  # a photo visitor still waiting when the window closes waits this much longer for results
OVER_CAP_TEXT = "using the webcam already, as many as this computer can follow"  # ui.classroom.live_webcams
HOLD_AFTER_S = 8.0  # streams stay on this long after the window, while the refused ones press Stop
JOIN_PHASE_S = 60.0  # everyone opens their page and types the code within this (13 pages boot on 2 cores: ~25 s)
STOP_SLACK_S = 35.0  # the visitors' phase ends at most this long after the window, whatever happens
OVERHEAD_S = 105.0  # the whole run ends within `seconds` + this (3 minutes for the default window), whatever happens
STOP_S = 20.0  # kept for stopping the browsers and the server
WARM_LINE = "FER Lens warmed up"  # ui/warmup.py logs it once the model and the face finder are ready
POLL_S = 0.5  # photo pages are looked at this often (a look costs the browser a little); streams once a second
SHOTS = Path(os.environ.get("FER_LENS_SCREENSHOTS", REPO_DIR / "screenshots"))
DEFAULT_OUT = SHOTS / "classroom_load.json"

BROWSER_ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-quic", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                "--autoplay-policy=no-user-gesture-required",
                # background tabs are not throttled: every visitor is "in front" on their own device
                "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                "--disable-backgrounding-occluded-windows"]
TEACHER_VIEWPORT = {"width": 1280, "height": 800}  # a laptop driving a projector
PUPIL_VIEWPORT = {"width": 800, "height": 800}  # a tablet; wide enough for the sidebar's menu

# In every page and frame, before its own scripts: keep each RTCPeerConnection (to read what the camera really
# sent), and switch off CSS animations (13 pages drawing spinners cost the shared CPU; a pupil's own device would
# draw them elsewhere).
INIT_JS = r"""(() => {
  if (window.RTCPeerConnection && !window.__ferLensPeers) {
    const Original = window.RTCPeerConnection;
    window.__ferLensPeers = [];
    const Wrapped = function (...args) { const pc = new Original(...args); window.__ferLensPeers.push(pc); return pc; };
    Wrapped.prototype = Original.prototype;
    Object.setPrototypeOf(Wrapped, Original);
    window.RTCPeerConnection = Wrapped;
  }
  const still = () => {
    const style = document.createElement("style");
    style.textContent = "*, *::before, *::after { animation-duration: 0s !important; " +
                        "animation-iteration-count: 1 !important; transition: none !important; }";
    (document.head || document.documentElement).appendChild(style);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", still); else still();
})();"""
# In the player's frame: video frames the camera sent (encoded) and got back (decoded) so far.
RTC_JS = r"""async () => {
  const out = {sent: 0, decoded: 0};
  for (const pc of (window.__ferLensPeers || [])) {
    if (pc.connectionState === "closed") continue;
    (await pc.getStats()).forEach(r => {
      if (r.kind !== "video") return;
      if (r.type === "outbound-rtp") out.sent += r.framesEncoded || 0;
      if (r.type === "inbound-rtp") out.decoded += r.framesDecoded || 0;
    });
  }
  return out;
}"""

# One look at a page: what a visitor would see, in one round trip (polling 13 pages must stay cheap).
PROBE_JS = r"""() => {
  const txt = e => (e && e.textContent || "").trim();  // textContent: no layout, so a look stays cheap
  const all = s => Array.from(document.querySelectorAll(s));
  const main = document.querySelector('[data-testid="stMain"]') || document.body;
  const body = main ? main.textContent : "";
  const busy = body.match(/The computer is busy: (\d+) ahead of you/);
  const metric = label => all('[data-testid="stMetric"]').filter(m => txt(m).includes(label))
      .map(m => txt(m.querySelector('[data-testid="stMetricValue"]')));
  return {
    exceptions: all('[data-testid="stException"]').map(txt),
    errors: all('[data-testid="stAlertContentError"]').map(txt),
    busy: busy ? Number(busy[1]) : null,
    faces: all("h1,h2,h3,h4,h5,h6").filter(h => /^Face \d+: \S+ \(\d+%\)/.test(txt(h))).length,
    trust: (body.match(/How far to trust this map:/g) || []).length,
    heatmaps_done: body.includes(" on every face:"),
    no_face: /: no face found/.test(body),
    code_form: body.includes("Enter the code shown on your teacher's screen"),
    over_cap: body.includes("using the webcam already, as many as this computer can follow"),  // OVER_CAP_TEXT
    connecting: body.includes("Connecting to the camera"),  // the live panel: playing, no frame analysed lately
    running: document.querySelector('[data-testid="stStatusWidget"]') !== null,
    frames: metric("Frames analysed"),
    fps: metric("Analysed per second"),
  };
}"""
PLAYER_JS = r"""() => {
  const names = Array.from(document.querySelectorAll("button")).map(b => (b.textContent || "").trim().toLowerCase());
  const body = document.body ? document.body.innerText : "";
  return {start: names.includes("start"), stop: names.includes("stop"),
          errors: body.split("\n").filter(l => /error/i.test(l)).slice(0, 3)};
}"""


# ---- results ---------------------------------------------------------------------------------------------

@dataclass
class PhotoVisitor:
    name: str
    photo: str
    outcome: str = "not started"  # results | please-wait | error | no result
    faces: int = 0
    heatmaps_s: float | None = None  # upload -> every face's heatmap shown
    seconds: float | None = None  # upload -> every heatmap and every trust note shown
    saw_queue_note: bool = False
    max_ahead: int = 0
    queue_note_top_px: int | None = None  # where the note first showed, from the top of the window
    errors: list[str] = field(default_factory=list)
    steps: list[tuple[float, str]] = field(default_factory=list)  # (s since the start, what happened)
    page_not_found_dialog: bool = False  # Streamlit's "Page not found" covered the code form
    landed_on: str | None = None  # the page the code form led to


@dataclass
class StreamVisitor:
    name: str
    teacher: bool
    # streaming | slow (teacher) | over-cap note | refused on video | connecting | stalled | no frames | error
    outcome: str = "not started"
    frames: int = 0  # the page's counter at the end
    fps: float | None = None  # from the counter, over the steady window
    fps_shown: float | None = None  # median of the page's "Analysed per second" over the steady window
    connect_s: float | None = None  # Start pressed -> first analysed frame
    video_brightness: float | None = None  # mean grey level of the <video> at the end (a refused one is darkened)
    errors: list[str] = field(default_factory=list)
    steps: list[tuple[float, str]] = field(default_factory=list)
    page_not_found_dialog: bool = False
    landed_on: str | None = None
    note_after_stop: bool = False  # refused on its video, then Stop: the page showed the cap's note
    connecting_note: bool = False  # at the window's end its panel said "Connecting to the camera…"
    returned_max: int = 0  # frames of the annotated video it got back and decoded, in all
    panel_still_s: float | None = None  # the longest time its "Frames analysed" stood still, once streaming
    fps_while_photos: float | None = None  # analysed per second from the window's start until every photo was done
    fps_after_photos: float | None = None  # and from then to the window's end
    sent_fps: float | None = None  # camera frames the browser sent per second (WebRTC's own count), same window
    returned_fps: float | None = None  # frames of the annotated video it got back and decoded per second
    # (s since the window opened, frames analysed, "Analysed per second" shown, frames sent, frames got back)
    samples: list[tuple[float, int, float | None, int, int]] = field(default_factory=list)


# ---- processes -------------------------------------------------------------------------------------------

def model_env() -> dict[str, str]:
    """The model for the server: the built-in one, else the dev checkpoint (as the browser tests do)."""
    from fer_core.model.checkpoint import resolve_model_path

    try:
        resolve_model_path(None)
        return {}
    except FileNotFoundError:
        dev = REPO_DIR / "runs" / "dev" / "dev-pilot.safetensors"
        if dev.exists():
            return {"FER_LENS_MODEL": str(dev)}
    raise RuntimeError("no model: neither a built-in model (fer_core/weights, $FER_LENS_MODEL) nor the dev checkpoint")


def start_server(tmp: Path, port: int, pupil_streams: int | None) -> tuple[subprocess.Popen, Path, Path]:
    """The classroom server (as `fer-lens serve --classroom` starts it, with a known code); (proc, cert, log)."""
    from fer_core.classroom.access import CLASSROOM_ENV, CODE_ENV, URL_ENV
    from fer_core.classroom.certificate import ensure_certificate
    from fer_core.cli.serve import streamlit_command

    cert, key = ensure_certificate(["127.0.0.2"], folder=tmp / "classroom")
    env = {**os.environ, **model_env(), "PYTHONUNBUFFERED": "1", "XDG_CONFIG_HOME": str(tmp),
           CLASSROOM_ENV: "1", CODE_ENV: CODE, URL_ENV: f"https://127.0.0.2:{port}"}
    if pupil_streams is not None:
        env["FER_LENS_PUPIL_STREAMS"] = str(pupil_streams)
    cmd = streamlit_command(REPO_DIR / "app.py", "0.0.0.0", port, cert, key) + ["--server.fileWatcherType=none"]
    log = tmp / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO_DIR, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    return proc, cert, log


def wait_healthy(proc: subprocess.Popen, port: int, cert: Path, timeout_s: float = START_BOUND_S) -> float:
    """Seconds until https://127.0.0.1:PORT/_stcore/health answers (trusting only our certificate)."""
    context = ssl.create_default_context(cafile=str(cert))
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        with contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            with urllib.request.urlopen(f"https://127.0.0.1:{port}/_stcore/health", context=context,
                                        timeout=2) as r:
                if r.status == 200:
                    return time.monotonic() - start
        time.sleep(0.2)
    raise TimeoutError(f"the server did not answer within {timeout_s:.0f} s")


def wait_warm(proc: subprocess.Popen, log: Path, timeout_s: float) -> float | None:
    """Seconds until the server says it has warmed up (model and detector loaded: ui/warmup.py), as it has
    before a teacher gives the class the address; None when it did not say so in time."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s and proc.poll() is None:
        if WARM_LINE in log.read_text(errors="replace"):
            return time.monotonic() - start
        time.sleep(0.2)
    return None


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _status_kb(pid: int, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def _cpu_ticks(pid: int) -> int | None:
    """User + system CPU ticks of one process (all its threads) so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None


def _machine_ticks() -> tuple[int, int]:
    """(busy, stolen) CPU ticks of the whole machine so far, from /proc/stat."""
    values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values[:8]) - idle - values[7], values[7]


class CpuMeter:
    """CPU seconds per group of processes, each process counted up to its last look (so a page that closes
    keeps what it used)."""

    def __init__(self) -> None:
        self.seen: dict[str, dict[int, int]] = {}

    def look(self, groups: dict[str, list[int]]) -> dict[str, float]:
        tick = os.sysconf("SC_CLK_TCK")
        for name, pids in groups.items():
            known = self.seen.setdefault(name, {})
            for pid in pids:
                ticks = _cpu_ticks(pid)
                if ticks is not None:
                    known[pid] = max(known.get(pid, 0), ticks)
        busy, stolen = _machine_ticks()
        totals = {name: sum(known.values()) / tick for name, known in self.seen.items()}
        return {**totals, "machine_busy": busy / tick, "machine_stolen": stolen / tick}


def _tree(root: int) -> list[int]:
    """`root` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _browser_pids(marker: str) -> list[int]:
    """The Chromium processes of this run: the one launched with `marker` (our y4m path) and its children."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if cmd and cmd[0].endswith(b"chromium") and any(marker.encode() in a for a in cmd):
                return _tree(int(entry.name))
    return []


# ---- visitors --------------------------------------------------------------------------------------------

class Clock:
    """Two phases: everyone joins (from `origin`), then, from `t0` when all have joined, the measured window of
    `seconds`: every upload and every Start at the same moment."""

    def __init__(self, seconds: float, steady_s: float) -> None:
        self.origin = time.monotonic()
        self.seconds, self.steady_s = seconds, steady_s
        self.t0: float | None = None
        self.go = asyncio.Event()

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.go.set()

    def now(self) -> float:
        """Seconds since the window opened (before it: negative, since the joining began)."""
        return time.monotonic() - (self.t0 if self.t0 is not None else self.origin)

    def left(self) -> float:
        return self.seconds - self.now() if self.t0 is not None else self.seconds

    def in_steady(self, t: float) -> bool:
        return t >= self.seconds - self.steady_s


def _note_errors(errors: list[str], probe: dict, where: str) -> None:
    for kind in ("exceptions", "errors"):
        for text in probe.get(kind, []):
            line = f"{where}: {text[:300]}"
            if line not in errors:
                errors.append(line)


async def _probe(page) -> dict:
    return await page.evaluate(PROBE_JS)


def _number(values: list[str]) -> int:
    """The highest number among a metric's shown copies ("1,234" -> 1234; a redrawn panel can show two)."""
    return max((int(d) for d in (re.sub(r"\D", "", v) for v in values) if d), default=0)


def _stepper(v, clock: Clock):
    def step(what: str) -> None:
        v.steps.append((round(clock.now(), 2), what))
    return step


async def _join(page, base: str, path: str, link: str, v, step) -> None:
    """Open `base + path` as a pupil: the code form first, then the code, then the page (through the menu's
    `link` when the code form did not lead there)."""
    await page.goto(base + path, timeout=JOIN_BOUND_S * 1000)
    box = page.get_by_label("Class code")
    await box.wait_for(timeout=JOIN_BOUND_S * 1000)
    step("code form shown")
    await page.wait_for_timeout(300)  # Streamlit's "Page not found" dialog comes just after the form
    dialog = page.locator('[role="dialog"]').filter(has_text="Page not found")
    if await dialog.count():  # it covers the code form (and makes it inert) until it is closed
        v.page_not_found_dialog = True
        step("'Page not found' dialog over the code form: closed")
        await page.keyboard.press("Escape")
        await dialog.wait_for(state="detached", timeout=10_000)
    await box.fill(CODE)
    await page.get_by_role("button", name="Join").click()
    await box.wait_for(state="detached", timeout=JOIN_BOUND_S * 1000)
    step("code accepted")
    await page.wait_for_timeout(300)
    v.landed_on = "/" + page.url.split("/", 3)[3]
    if v.landed_on.rstrip("/") != path:  # the code form led elsewhere (Home): on through the menu
        await page.get_by_test_id("stSidebarNav").get_by_role("link", name=link, exact=True).click(
            timeout=JOIN_BOUND_S * 1000)
        step(f"landed on {v.landed_on}; went to {link} through the menu")


async def _ready(v, clock: Clock, ready: asyncio.Queue) -> bool:
    """Tell the coordinator this visitor has joined; wait for the window. False when it never opened."""
    await ready.put(v.name)
    await clock.go.wait()
    return clock.t0 is not None


async def _idle(page, v, clock: Clock, where: str) -> None:
    """Stay on the page until the window closes, as a pupil would, watching for errors."""
    while clock.left() > 0:
        _note_errors(v.errors, await _probe(page), where)
        await asyncio.sleep(min(2.0, max(clock.left(), 0.01)))


async def _open(browser, viewport: dict, v):
    """A fresh browser context (its own cookies, so its own Streamlit session) and page for one visitor."""
    context = await browser.new_context(ignore_https_errors=True, viewport=viewport)
    await context.add_init_script(INIT_JS)
    page = await context.new_page()
    page.on("pageerror", lambda exc: v.errors.append(f"page script: {exc}"[:300]))
    return context, page


def _error(v, exc: BaseException) -> None:
    v.errors.append(f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:300]}")


async def _leave(v, context) -> None:
    """A visitor's end, however it went: any error decides the outcome, and its browser context closes."""
    if v.errors:
        v.outcome = "error"
    with contextlib.suppress(Exception):
        await context.close()


async def photo_visitor(browser, base: str, photo: Path, v: PhotoVisitor, clock: Clock, ready: asyncio.Queue,
                        shots: bool) -> None:
    step = _stepper(v, clock)
    context, page = await _open(browser, PUPIL_VIEWPORT, v)
    uploader = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    try:
        v.outcome = "joining"
        await _join(page, base, "/photo", "Photo", v, step)
        await uploader.wait_for(state="attached", timeout=JOIN_BOUND_S * 1000)
        step("uploader shown")
        if not await _ready(v, clock, ready):
            return
        start = time.monotonic()
        await uploader.set_input_files(str(photo))
        step("uploaded")
        v.outcome = "no result"
        shot_taken = False
        while True:
            probe = await _probe(page)
            _note_errors(v.errors, probe, "photo page")
            if probe["busy"] is not None:
                if not v.saw_queue_note:
                    step(f"queue note: {probe['busy']} ahead")
                    note = page.get_by_text(re.compile("ahead of you")).first
                    with contextlib.suppress(Exception):  # where it is: can the pupil see it without scrolling?
                        box = await note.bounding_box(timeout=2000)
                        v.queue_note_top_px = round(box["y"]) if box else None
                v.saw_queue_note = True
                v.max_ahead = max(v.max_ahead, probe["busy"])
                if shots and not shot_taken and v.photo == PHOTOS[-1]:
                    shot_taken = True
                    with contextlib.suppress(Exception):
                        await page.get_by_text(re.compile("ahead of you")).first.scroll_into_view_if_needed(
                            timeout=2000)
                        await page.screenshot(path=str(SHOTS / "classroom-load-queue-note.png"))
            if probe["no_face"]:
                v.seconds = v.heatmaps_s = round(time.monotonic() - start, 2)
                v.outcome = "results"
                step("no face found")
                break
            if probe["heatmaps_done"] and v.heatmaps_s is None:
                v.heatmaps_s = round(time.monotonic() - start, 2)
                step("heatmaps shown")
            if probe["heatmaps_done"] and probe["faces"] and probe["trust"] >= probe["faces"]:
                v.seconds, v.faces = round(time.monotonic() - start, 2), probe["faces"]
                v.outcome = "results"
                step("trust notes shown")
                break
            if clock.left() <= -PHOTO_GRACE_S:  # out of time: a clear "please wait" is a fair answer
                v.faces = probe["faces"]
                told = probe["busy"] is not None or (v.saw_queue_note and probe["running"])  # or its turn now
                v.outcome = "please-wait" if told else "no result"
                step(f"out of time: {v.outcome}")
                break
            await asyncio.sleep(POLL_S)
        if shots and v.photo == PHOTOS[0] and v.outcome == "results":
            await page.screenshot(path=str(SHOTS / "classroom-load-photo.png"), full_page=True)
        await _idle(page, v, clock, "photo page")
    except Exception as exc:  # noqa: BLE001 - recorded: a visitor whose page broke is a finding, not a crash
        _error(v, exc)
    finally:
        await _leave(v, context)


async def _video_brightness(player) -> float | None:
    """The <video>'s mean grey level (0-255) as drawn now: a stream over the cap is darkened, with its reason."""
    import io

    import numpy as np
    from PIL import Image

    with contextlib.suppress(Exception):
        png = await player.locator("video").first.screenshot(timeout=5000)
        return round(float(np.asarray(Image.open(io.BytesIO(png)).convert("L")).mean()), 1)
    return None


PLAYER = "iframe[title*='webrtc' i]"


async def _player_state(page, script: str = PLAYER_JS) -> dict | None:
    """The player's buttons and error lines now, or with RTC_JS its frame counts (its iframe is found afresh: a
    rerun can replace it)."""
    with contextlib.suppress(Exception):
        handle = await page.query_selector(PLAYER)
        frame = await handle.content_frame() if handle else None
        if frame is not None:
            return await frame.evaluate(script)
    return None


async def _find_player(page, v) -> bool:
    """Wait for the streamlit-webrtc player's Start button (True), or the cap's note in its place (False)."""
    deadline = time.monotonic() + JOIN_BOUND_S
    while time.monotonic() < deadline:
        probe = await _probe(page)
        _note_errors(v.errors, probe, "webcam page")
        if probe["over_cap"]:
            return False
        state = await _player_state(page)
        if state and state["start"]:
            return True
        await asyncio.sleep(POLL_S)
    raise TimeoutError(f"neither the camera player nor the cap's note within {JOIN_BOUND_S:.0f} s")


async def stream_visitor(browser, base: str, v: StreamVisitor, clock: Clock, ready: asyncio.Queue,
                         shots: bool) -> None:
    step = _stepper(v, clock)
    context, page = await _open(browser, TEACHER_VIEWPORT if v.teacher else PUPIL_VIEWPORT, v)
    try:
        v.outcome = "joining"
        if v.teacher:
            await page.goto(base + "/webcam", timeout=JOIN_BOUND_S * 1000)
        else:
            await _join(page, base, "/webcam", "Webcam", v, step)
        has_player = await _find_player(page, v)
        step("player shown" if has_player else "over-cap note")
        if not await _ready(v, clock, ready):
            return
        player = page.frame_locator(PLAYER)
        if not has_player:
            v.outcome = "over-cap note"
            await _idle(page, v, clock, "webcam page")
            return
        pressed = time.monotonic()
        await player.get_by_role("button", name=re.compile("^start$", re.I)).click()
        step("start pressed")
        v.outcome = "no frames"
        while clock.left() > 0:
            probe = await _probe(page)
            _note_errors(v.errors, probe, "webcam page")
            for line in ((await _player_state(page)) or {}).get("errors", []):
                if f"player: {line}" not in v.errors:
                    v.errors.append(f"player: {line}")
            frames = _number(probe["frames"])
            shown = [float(x) for x in (re.sub(r"[^\d.]", "", s) for s in probe["fps"]) if x]
            rtc = (await _player_state(page, RTC_JS)) or {}
            v.samples.append((round(clock.now(), 2), frames, shown[-1] if shown else None, rtc.get("sent", 0),
                              rtc.get("decoded", 0)))
            if frames and v.connect_s is None:
                v.connect_s = round(time.monotonic() - pressed, 2)
                step("first frame analysed")
            await asyncio.sleep(min(1.0, max(clock.left(), 0.01)))
        v.frames = max((x[1] for x in v.samples), default=0)
        v.fps, v.sent_fps, v.returned_fps = (_rate(v.samples, clock.seconds - clock.steady_s, clock.seconds, k)
                                             for k in (1, 3, 4))
        first = next((x[0] for x in v.samples if x[1]), None)
        v.panel_still_s = _longest_freeze(v.samples, first) if first is not None else None
        shown = [x[2] for x in v.samples if clock.in_steady(x[0]) and x[2] is not None]
        v.fps_shown = statistics.median(shown) if shown else None
        v.video_brightness = await _video_brightness(player)
        v.returned_max = max((x[4] for x in v.samples), default=0)
        v.connecting_note = bool((await _probe(page))["connecting"])
        playing = ((await _player_state(page)) or {}).get("stop", False)
        if v.fps:
            v.outcome = "streaming"
        elif (await _probe(page))["over_cap"]:  # refused on its video, then a rerun put the cap's note in its place
            v.outcome = "over-cap note"
        elif playing and v.teacher and v.frames:  # the teacher is never refused: its counter stood still
            v.outcome = "slow"  # (the server was busy through the steady window); its rate is the benchmark's
        elif playing:  # live, but no frame analysed lately: never had a slot, or lost it (the reason on its video)
            v.outcome = "refused on video"  # checked against the teacher's video's brightness afterwards
        elif v.frames:  # frames were analysed, then the stream stopped (Start is back)
            v.outcome = "stalled"
        if shots and (v.teacher or v.outcome != "streaming"):
            await page.screenshot(path=str(SHOTS / f"classroom-load-{v.name}.png"))
        if v.outcome == "streaming":  # hold the slot a little longer, while the refused ones check their note
            while clock.left() > -HOLD_AFTER_S:
                await asyncio.sleep(0.5)
        if v.outcome == "refused on video":  # after the window: Stop, and the page should show the cap's note
            with contextlib.suppress(Exception):  # (a rerun may have swapped the player for the note already)
                await player.get_by_role("button", name=re.compile("^stop$", re.I)).click(timeout=5000)
            with contextlib.suppress(Exception):
                await page.get_by_text(OVER_CAP_TEXT).wait_for(timeout=15_000)
                v.note_after_stop = True
            step("stopped: the cap's note shown" if v.note_after_stop else "stopped: no note")
            if shots and v.note_after_stop:
                await page.screenshot(path=str(SHOTS / f"classroom-load-{v.name}-note.png"))
    except Exception as exc:  # noqa: BLE001 - recorded as this visitor's error
        _error(v, exc)
    finally:
        await _leave(v, context)


def _set_group_nice(pid: int, nice: int) -> bool:
    """Lower the CPU weight of `pid`'s whole autogroup (Linux; Playwright starts each browser in a session of its
    own, so that is the browser and its children). Chromium sets its processes' own nice values, not its group's."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/autogroup").write_text(str(nice))
        return True
    return False


async def visitors(base: str, clip: Path, photos: list[Path], seconds: float, steady_s: float, shots: bool,
                   server_pid: int, report: dict, budget_s: float,
                   pupils_nice: int = 0) -> tuple[list[StreamVisitor], list[PhotoVisitor]]:
    """Every visitor at once: the teacher in one browser (on this computer in a real class too), the 12 pupils
    in another (on their own devices in a real class; here it shares the CPU, and its share is reported)."""
    from playwright.async_api import async_playwright

    streams = [StreamVisitor("teacher", True)] + [StreamVisitor(f"camera-pupil-{i}", False)
                                                   for i in range(1, STREAM_PUPILS + 1)]
    photo_visitors = [PhotoVisitor(f"photo-pupil-{i}", p.name) for i, p in enumerate(photos, 1)]
    everyone = len(streams) + len(photo_visitors)
    pupils_clip = clip.with_name("pupils-" + clip.name)  # the same file under another name, to tell the two apart
    if not pupils_clip.exists():
        os.link(clip, pupils_clip)
    async with async_playwright() as p:
        browsers = []
        try:
            for camera in (clip, pupils_clip):
                browsers.append(await p.chromium.launch(
                    executable_path=str(CHROMIUM), headless=True,
                    args=BROWSER_ARGS + [f"--use-file-for-fake-video-capture={camera}"]))
            teacher_browser, pupils_browser = browsers
            if pupils_nice:
                tree = _browser_pids(str(pupils_clip))
                report["pupils_browser_nice"] = pupils_nice if tree and _set_group_nice(tree[0], pupils_nice) \
                    else "could not be set"
            clock, ready = Clock(seconds, steady_s), asyncio.Queue()
            rss_peak, cpu_marks, meter = 0, {}, CpuMeter()

            def cpu_now() -> tuple[float, dict[str, float]]:
                groups = {"server": _tree(server_pid), "teacher_browser": _browser_pids(str(clip)),
                          "pupils_browser": _browser_pids(str(pupils_clip))}
                others = {pid for pids in groups.values() for pid in pids}
                groups["test_driver"] = [pid for pid in _tree(os.getpid()) if pid not in others]
                return time.monotonic(), meter.look(groups)

            async def coordinate() -> None:
                """Open the window once everyone has joined (or the joining time is up); then sample the server."""
                nonlocal rss_peak
                joined, deadline = 0, time.monotonic() + JOIN_PHASE_S
                while joined < everyone and time.monotonic() < deadline:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(ready.get(), timeout=max(0.1, deadline - time.monotonic()))
                        joined += 1
                report["join_s"] = round(time.monotonic() - clock.origin, 1)
                report["joined"] = f"{joined} of {everyone}"
                if joined < everyone:
                    report["reasons"].append(f"only {joined} of {everyone} visitors joined within {JOIN_PHASE_S:.0f} s")
                clock.start()
                cpu_marks["start"] = cpu_now()
                while clock.left() > 0:
                    rss_peak = max(rss_peak, _status_kb(server_pid, "VmRSS") or 0)
                    if "steady" not in cpu_marks and clock.in_steady(clock.now()):
                        cpu_marks["steady"] = cpu_now()
                    else:
                        cpu_now()  # a look now and then, so that a process that ends still counts
                    await asyncio.sleep(0.5)
                cpu_marks["end"] = cpu_now()

            teacher_base = base.replace("127.0.0.2", "127.0.0.1")  # the teacher opens this computer's own address
            jobs = [stream_visitor(teacher_browser if v.teacher else pupils_browser,
                                   teacher_base if v.teacher else base, v, clock, ready, shots) for v in streams]
            jobs += [photo_visitor(pupils_browser, base, photo, v, clock, ready, shots)
                     for photo, v in zip(photos, photo_visitors)]
            limit = min(JOIN_PHASE_S + seconds + STOP_SLACK_S, budget_s)
            try:
                await asyncio.wait_for(asyncio.gather(coordinate(), *jobs), timeout=limit)
            except asyncio.TimeoutError:
                report["reasons"].append(f"the visitors did not finish in time ({limit:.0f} s)")
            report["server_rss_peak_sampled_mb"] = round(rss_peak / 1024)
            for name, a, b in (("window", "start", "end"), ("steady", "steady", "end")):
                if a in cpu_marks and b in cpu_marks:
                    (t1, c1), (t2, c2) = cpu_marks[a], cpu_marks[b]
                    report[f"{name}_cpu_cores"] = {who: round((c2[who] - c1.get(who, 0)) / (t2 - t1), 2)
                                                   for who in c2}
        finally:
            for browser in browsers:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(browser.close(), timeout=20)
    return streams, photo_visitors


# ---- the run ---------------------------------------------------------------------------------------------

def _p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)  # nearest rank
    return round(ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)], 2)


def missing() -> str | None:
    """Why the load test cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"no browser: {CHROMIUM} is missing (apt-get install -y chromium)"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright)"
    shared = shared_dir()
    for path in [shared.joinpath(*VIDEO)] + [shared / "media" / "photos" / name for name in PHOTOS]:
        if not path.exists():
            return f"shared test data not available: {path} is missing (set FER_LENS_SHARED to the shared folder)"
    return None


def run(seconds: float = WINDOW_S, pupil_streams: int | None = None, out: Path | None = DEFAULT_OUT,
        steady_s: float = STEADY_S, shots: bool = True, photos: int = len(PHOTOS), pupils_nice: int = 0) -> dict:
    """Run the whole load test; the report (also written to `out`). `report["ok"]` says whether it passed."""
    problem = missing()
    if problem:
        raise RuntimeError(problem)
    steady_s = min(steady_s, seconds / 2)
    shared = shared_dir()
    photo_paths = [shared / "media" / "photos" / name for name in PHOTOS[:photos]]
    report: dict = {"command": "python -m tests.classroom.load_test " + " ".join(sys.argv[1:]) if __name__ == "__main__"
                    else f"run(seconds={seconds}, pupil_streams={pupil_streams})",
                    "when": time.strftime("%Y-%m-%d %H:%M:%S"), "cpus": os.cpu_count(),
                    "load_average_before": [round(x, 2) for x in os.getloadavg()],
                    "seconds": seconds, "steady_window_s": steady_s, "reasons": []}
    if shots:
        SHOTS.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="fer-lens-load-"))
    proc = None
    began = time.monotonic()
    try:
        clip = write_y4m(shared.joinpath(*VIDEO), tmp / "camera.y4m")
        port = free_port()
        proc, cert, log = start_server(tmp, port, pupil_streams)
        healthy = wait_healthy(proc, port, cert)
        warm = wait_warm(proc, log, START_BOUND_S - healthy)
        report["server_start_s"] = round(healthy + (warm or 0), 1)
        if warm is None:
            report["reasons"].append("the server did not say it had warmed up; the visitors went ahead")
        from fer_core.classroom import streams as streams_module

        cap = pupil_streams if pupil_streams is not None else streams_module.PUPIL_STREAMS
        report["pupil_stream_cap"] = cap
        report["camera_visitors"], report["photo_visitors"] = 1 + STREAM_PUPILS, len(photo_paths)
        streams, photo_visitors = asyncio.run(visitors(f"https://127.0.0.2:{port}", clip, photo_paths, seconds,
                                                       steady_s, shots, proc.pid, report,
                                                       seconds + OVERHEAD_S - STOP_S - (time.monotonic() - began),
                                                       pupils_nice))
        report["server_vm_hwm_mb"] = round((_status_kb(proc.pid, "VmHWM") or 0) / 1024)
        text = log.read_text(errors="replace")
        report["server_log_tracebacks"] = text.count("Traceback (most recent call last)")
        if report["server_log_tracebacks"]:
            report["server_log_first_traceback"] = text[text.find("Traceback"):][:2000]
    finally:
        if proc is not None:
            stop_server(proc)
        if out is not None and (tmp / "server.log").exists():  # kept next to the report, for a failed run
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(tmp / "server.log", out.with_suffix(".server.log"))
        shutil.rmtree(tmp, ignore_errors=True)
    report["wall_s"] = round(time.monotonic() - began, 1)
    _judge(report, streams, photo_visitors, cap)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
    return report


def _rate(samples: list, t_from: float, t_to: float, k: int = 1) -> float | None:
    """Per second, of sample column `k` (1: frames analysed, 3: sent, 4: got back), between two times.

    The page's counter is redrawn by its live panel, which a busy server can leave unrefreshed for seconds; the
    count itself only grows. So the rate runs from the first fresh value in the span to the last (each seen
    within a second of being drawn), not from the span's edges, where the value may be an old one."""
    inside = [x for x in samples if t_from <= x[0] <= t_to]
    fresh = [b for a, b in zip(inside, inside[1:]) if b[k] != a[k]]
    if len(fresh) < 2 or fresh[-1][0] - fresh[0][0] < 2:
        return None
    return round((fresh[-1][k] - fresh[0][k]) / (fresh[-1][0] - fresh[0][0]), 1)


def _longest_freeze(samples: list, t_from: float) -> float | None:
    """The longest time the page's frame counter stood still after `t_from` (its first analysed frame)."""
    times = [b[0] for a, b in zip(samples, samples[1:]) if b[1] != a[1] and b[0] >= t_from]
    return round(max((b - a for a, b in zip(times, times[1:])), default=0.0), 1) if times else None


def _judge(report: dict, streams: list[StreamVisitor], photos: list[PhotoVisitor], cap: int) -> None:
    """Fill in the summary figures and the reasons for a failure."""
    reasons = report["reasons"]
    finished = [t for v in photos for t, what in v.steps if what in ("trust notes shown", "no face found")]
    photos_done = (max(finished) if finished else 0.0) if len(finished) == len(photos) else None
    report["photos_all_done_s"] = photos_done  # after the window opened; the streams' rates before and after it
    for v in streams:
        v.fps_while_photos = _rate(v.samples, 0, photos_done if photos_done is not None else report["seconds"])
        v.fps_after_photos = _rate(v.samples, photos_done, report["seconds"]) if photos_done is not None else None
    teacher = streams[0]
    bright = teacher.video_brightness
    for v in streams[1:]:  # the reason on a refused stream's video darkens it (to about 0.6 of the teacher's here)
        if v.outcome == "refused on video" and bright and v.video_brightness is not None \
                and v.video_brightness > 0.75 * bright:
            # Not darkened: its frames were let in. Frames coming back labelled through the steady window, while
            # the page's counter never showed one (a starved browser redraws late), still mean it had the slot.
            # A stream with neither, whose page still says it is connecting, never got going on a starved machine
            # (WebRTC hands the camera's own frames back until the server's first one is ready): the pupil was
            # told to wait, by the live panel rather than by the cap.
            v.outcome = "stalled" if v.frames else "streaming" if (v.returned_fps or 0) >= 1 \
                else "connecting" if v.connecting_note else "no frames"
    times = [v.seconds for v in photos if v.seconds is not None]
    heat = [v.heatmaps_s for v in photos if v.heatmaps_s is not None]
    pupils = streams[1:]
    admitted = [v for v in pupils if v.outcome == "streaming"]
    waiting = [v.name for v in pupils if v.outcome in ("over-cap note", "refused on video", "connecting")]
    report["summary"] = {
        "photo_s_median": round(statistics.median(times), 2) if times else None,
        "photo_s_p95": _p95(times),
        "photo_heatmaps_s_median": round(statistics.median(heat), 2) if heat else None,
        "photo_visitors_told_to_wait_in_queue": sum(v.saw_queue_note for v in photos),
        "teacher_fps": teacher.fps,
        "teacher_fps_while_photos": teacher.fps_while_photos,
        "teacher_fps_after_photos": teacher.fps_after_photos,
        "pupil_fps_while_photos": [v.fps_while_photos for v in admitted],
        "pupil_fps_after_photos": [v.fps_after_photos for v in admitted],
        "pupil_fps": [v.fps for v in admitted],
        "pupils_streaming": len(admitted),
        "pupils_told_to_wait": waiting,
        # a finding, not a failure: a pupil opening a page's own address got Streamlit's "Page not found" over
        # the code form, and Home instead of that page after the code
        "pupils_shown_page_not_found": sum(v.page_not_found_dialog for v in [*pupils, *photos]),
        "pupils_sent_elsewhere_after_code": sorted({v.landed_on for v in [*pupils, *photos]
                                                    if v.landed_on not in (None, "/photo", "/webcam")}),
    }
    report["streams"] = [asdict(v) for v in streams]
    report["photos"] = [asdict(v) for v in photos]
    for v in [*streams, *photos]:
        if v.errors:
            reasons.append(f"{v.name} got an error: {v.errors[0]}")
    for v in pupils:
        if v.outcome == "refused on video" and not v.note_after_stop:
            reasons.append(f"{v.name} was refused on its video, but after Stop the page did not show the cap's note")
    for v in photos:
        if v.outcome not in ("results", "please-wait", "error"):
            reasons.append(f"{v.name} ({v.photo}) got neither results nor a clear please-wait: {v.outcome}")
    for v in pupils:
        if v.outcome not in ("streaming", "over-cap note", "refused on video", "connecting", "error"):
            reasons.append(f"{v.name}'s camera got neither frames nor a clear please-wait (brightness "
                           f"{v.video_brightness} vs the teacher's {bright}; {v.returned_max} frames got back; "
                           f"steps {v.steps}): {v.outcome}")
    if teacher.outcome not in ("streaming", "slow", "error"):  # "slow" fails the frames/s rule below instead
        reasons.append(f"the teacher's stream did not run: {teacher.outcome}")
    if len(admitted) > cap:
        reasons.append(f"{len(admitted)} pupils streamed at once, over the cap of {cap}")
    if teacher.fps is None or teacher.fps < TEACHER_MIN_FPS:
        reasons.append(f"the teacher's stream fell to {teacher.fps} frames/s (needs >= {TEACHER_MIN_FPS:.0f})")
    report["ok"] = not reasons


def table(report: dict) -> str:
    s = report["summary"]
    lines = [f"classroom load test: cap {report['pupil_stream_cap']} pupil webcams; everyone joined in "
             f"{report.get('join_s')} s ({report.get('joined')}), then {report['seconds']:.0f} s all at once "
             f"(steady window: the last {report['steady_window_s']:.0f} s); server peak memory "
             f"{report.get('server_vm_hwm_mb')} MB; CPU cores in the steady window {report.get('steady_cpu_cores')}",
             f"{'visitor':<16} {'outcome':<17} {'figure':>8}  notes"]
    for v in report["streams"]:
        lines.append(f"{v['name']:<16} {v['outcome']:<17} {v['fps'] if v['fps'] is not None else '-':>6}/s  "
                     f"while photos {v['fps_while_photos']}/s, after {v['fps_after_photos']}/s; "
                     f"counter still for up to {v['panel_still_s']} s; shown {v['fps_shown']}; "
                     f"camera sent {v['sent_fps']}/s, got back {v['returned_fps']}/s; "
                     f"{v['frames']} frames, the first {v['connect_s']} s after Start")
    for v in report["photos"]:
        queue = f"saw '{v['max_ahead']} ahead of you'" if v["saw_queue_note"] else "no queue note"
        lines.append(f"{v['name']:<16} {v['outcome']:<17} {v['seconds'] if v['seconds'] is not None else '-':>7}s  "
                     f"{v['photo']}, {v['faces']} faces, heatmaps at {v['heatmaps_s']} s, {queue}")
    lines.append(f"photos: median {s['photo_s_median']} s, p95 {s['photo_s_p95']} s; teacher {s['teacher_fps']}/s; "
                 f"pupils streaming {s['pupils_streaming']} at {s['pupil_fps']}/s; told to wait: "
                 f"{', '.join(s['pupils_told_to_wait']) or 'nobody'}")
    lines.append("PASS" if report["ok"] else "FAIL: " + "; ".join(report["reasons"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.classroom.load_test", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=WINDOW_S,
                        help=f"the measured window, once everyone has joined (default {WINDOW_S:.0f})")
    parser.add_argument("--steady", type=float, default=STEADY_S,
                        help=f"frames/s are measured over the last this-many seconds (default {STEADY_S:.0f})")
    parser.add_argument("--pupil-streams", type=int, default=None,
                        help="the cap on pupils' webcams (FER_LENS_PUPIL_STREAMS; default: the app's default)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"the JSON report (default {DEFAULT_OUT})")
    parser.add_argument("--photos", type=int, default=len(PHOTOS), choices=range(len(PHOTOS) + 1),
                        help=f"photo visitors (default {len(PHOTOS)}; 0: the webcams alone)")
    parser.add_argument("--pupils-nice", type=int, default=0, choices=range(20), metavar="0-19",
                        help="lower the pupils' browser's CPU weight (its group's nice), so that the server and the "
                             "teacher's browser go first, as if the pupils' browsers ran on their own devices")
    parser.add_argument("--no-screenshots", action="store_true", help="save no screenshots")
    args = parser.parse_args(argv)
    try:
        report = run(args.seconds, args.pupil_streams, args.out, args.steady, shots=not args.no_screenshots,
                     photos=args.photos, pupils_nice=args.pupils_nice)
    except (RuntimeError, TimeoutError) as exc:
        print(f"load test could not run: {exc}", file=sys.stderr)
        return 1
    print(table(report))
    print(f"written: {args.out}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
