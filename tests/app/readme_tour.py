"""The README's short tour: one screenshot of every dashboard page, written to docs/tour/<page>.png.

Run: `python -m tests.app.readme_tour [PAGE ...]` (no names: every page). It starts `streamlit run app.py` with
the test helper `streamlit_app`, opens each page in Debian's Chromium at 1280x800 (light theme) and saves the
page, cut at MAX_HEIGHT px, as an optimised PNG (quantised when it is still over MAX_BYTES).

Only the public-domain sample photos that ship with installed packages appear (fer_core/samples.py: Grace
Hopper, shipped with matplotlib, and scikit-image's astronaut). `FER_LENS_SHARED` points at an empty folder for
the server, so no dataset face or media file from ../shared can reach a picture; the Webcam, Video clip and
Many clips pages are shot as they open, with no camera and no upload.

Not a test (pytest does not collect it). Needs: `apt-get install -y chromium` and `pip install playwright`
(never `playwright install`).
"""
from __future__ import annotations

import io
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from fer_core.samples import sample_png
from tests.app.browser_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    CONTENT_HEIGHT_JS,
    DEFAULT_HEATMAP,
    SANITY_S,
    settle,
    streamlit_app,
    wait_count,
    wait_for_charts,
)
from tests.conftest import REPO

OUT = REPO / "docs" / "tour"
WIDTH, HEIGHT = 1280, 800  # the viewport; a page longer than that is shot down to MAX_HEIGHT
MAX_HEIGHT = 1600
MAX_BYTES = 400_000
TOUR_SAMPLES = ("astronaut.png", "grace_hopper.jpg")  # public domain, shipped with scikit-image and matplotlib
TRUST_NOTE = re.compile("How far to trust this map:")
PENDING = "Checking how far to trust this map"
FACE_HEADING = re.compile(r"^Face \d+: \w+ \(\d+%\)")

IMAGES_LOADED_JS = """() => Array.from(document.querySelectorAll('[data-testid="stMain"] img'))
    .every(i => i.complete && i.naturalWidth > 0)"""


def wait_text(page, text, timeout_s: float = SANITY_S) -> None:
    page.get_by_text(text).first.wait_for(timeout=timeout_s * 1000)


def quiet(page, trust_notes: int = 0, timeout_s: float = SANITY_S) -> None:
    """Wait until the run is over, no spinner or pending trust check is left, at least `trust_notes` notes are
    shown and every picture has loaded."""
    deadline = time.monotonic() + timeout_s
    spinners = page.locator('[data-testid="stSpinner"]')
    while time.monotonic() < deadline:
        settle(page)
        if (spinners.count() == 0 and page.get_by_text(PENDING).count() == 0
                and page.get_by_text(TRUST_NOTE).count() >= trust_notes and page.evaluate(IMAGES_LOADED_JS)):
            return
        page.wait_for_timeout(200)
    raise TimeoutError("the page did not come to rest")


def capture(page, name: str, top=None) -> Path:
    """At most MAX_HEIGHT px of the page, from its top or from just above the element `top`, as
    docs/tour/<name>.png. Streamlit scrolls inside its main area, so the viewport is stretched to the content
    first (as `shoot` in browser_support does)."""
    height = max(min(int(page.evaluate(CONTENT_HEIGHT_JS)), 12000), HEIGHT)
    page.set_viewport_size({"width": WIDTH, "height": height})
    wait_for_charts(page)
    page.wait_for_timeout(800)  # let charts and columns re-lay out
    y = 0 if top is None else max(0, int(top.first.bounding_box()["y"]) - 24)
    shot = page.screenshot(clip={"x": 0, "y": y, "width": WIDTH, "height": min(height - y, MAX_HEIGHT)})
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    return save_png(shot, OUT / f"{name}.png")


def save_png(data: bytes, path: Path) -> Path:
    """An optimised PNG; quantised to 256 colours when it would still be larger than MAX_BYTES."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(io.BytesIO(data)) as im:
        rgb = im.convert("RGB")
    buf = io.BytesIO()
    rgb.save(buf, "PNG", optimize=True)
    if buf.tell() > MAX_BYTES:
        buf = io.BytesIO()
        rgb.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            buf, "PNG", optimize=True)
    path.write_bytes(buf.getvalue())
    return path


def as_upload(name: str) -> dict:
    """A packaged sample as an in-memory file for an uploader (never a file from ../shared)."""
    return {"name": name.rsplit(".", 1)[0] + ".png", "mimeType": "image/png", "buffer": sample_png(name)}


# ---- one function per page: bring the page to the state its README paragraph describes; each may return
# the element the picture should start at (None: the top of the page) -----------------------------------------

def home(page, url: str) -> None:
    page.goto(url)
    page.get_by_role("button", name="Analyse this sample photo").wait_for(timeout=SANITY_S * 1000)
    quiet(page)


def photo(page, url: str) -> None:
    page.goto(url + "/photo")
    page.get_by_role("button", name="Use a sample photo").wait_for(timeout=SANITY_S * 1000)
    settle(page)
    page.get_by_role("button", name="Use a sample photo").click()
    page.get_by_role("heading", name=FACE_HEADING).first.wait_for(timeout=SANITY_S * 1000)
    wait_text(page, "on every face")  # the whole-photo heatmap's caption: every face card is drawn
    quiet(page, trust_notes=1)
    # from just above the results (the help on reading them, the photos, the face's card)
    return page.get_by_test_id("stExpander").filter(has_text="How to read these results")


def compare(page, url: str) -> None:
    """Two models on the sample photo (the page uses it when nothing is uploaded)."""
    page.goto(url + "/compare")
    wait_text(page, "What to compare")
    settle(page)
    page.locator('[data-testid="stRadio"] label').filter(has_text="Two models").first.click()
    wait_text(page, "Second model")
    wait_text(page, "What differs")
    quiet(page, trust_notes=2)


def webcam(page, url: str) -> None:
    page.goto(url + "/webcam")
    player = page.frame_locator("iframe[title*='webrtc' i]")
    player.get_by_role("button", name=re.compile("^start$", re.I)).wait_for(timeout=SANITY_S * 1000)
    quiet(page)


def video(page, url: str) -> None:
    page.goto(url + "/video")
    wait_text(page, "Choose a clip to begin")
    quiet(page)


def many_clips(page, url: str) -> None:
    page.goto(url + "/many_clips")
    wait_text(page, "Choose clips and press Start")
    quiet(page)


def robustness(page, url: str) -> None:
    page.goto(url + "/robustness")
    wait_text(page, "Every change at once")
    wait_count(page, page.get_by_text(DEFAULT_HEATMAP), 2)
    quiet(page)


def teach(page, url: str) -> None:
    """The teacher's own photos (here: the packaged samples), three clicks from the class, then the reveal."""
    page.goto(url + "/teach")
    wait_text(page, "Photos with faces")
    settle(page)
    box = page.get_by_test_id("stFileUploader").filter(has_text="Photos with faces")
    box.get_by_test_id("stFileUploaderDropzoneInput").set_input_files([as_upload(n) for n in TOUR_SAMPLES])
    wait_text(page, "0 votes so far")
    settle(page)
    for button in ("Happy", "Happy", "Neutral"):
        page.get_by_role("button", name=button, exact=True).click()
        settle(page)
    wait_text(page, "3 votes so far")
    page.get_by_role("button", name="Reveal the votes and the model").click()
    wait_text(page, "What people said")
    quiet(page, trust_notes=1)


def model(page, url: str) -> None:
    page.goto(url + "/model")
    wait_text(page, "Article 5(1)(f)")
    page.get_by_role("heading", name="How often is it right?").wait_for(timeout=SANITY_S * 1000)
    quiet(page)


PAGES: dict[str, Callable] = {"home": home, "photo": photo, "compare": compare, "webcam": webcam, "video": video,
                              "many-clips": many_clips, "robustness": robustness, "teach": teach, "model": model}


def main(names: list[str]) -> int:
    from playwright.sync_api import sync_playwright

    unknown = [n for n in names if n not in PAGES]
    if unknown:
        print(f"unknown page(s) {unknown}; choose from {list(PAGES)}", file=sys.stderr)
        return 2
    if not CHROMIUM.exists():
        print(f"no browser: {CHROMIUM} is missing (apt-get install -y chromium)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        no_shared = Path(tmp) / "no-shared-data"  # empty: no FER+ faces, no media
        no_shared.mkdir()
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            with streamlit_app(Path(tmp) / "streamlit.log", {"FER_LENS_SHARED": str(no_shared)}) as (url, _):
                for name in names or list(PAGES):
                    page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT}, color_scheme="light",
                                            device_scale_factor=1)
                    start = time.perf_counter()
                    top = PAGES[name](page, url)
                    path = capture(page, name, top)
                    page.close()
                    print(f"{path.relative_to(REPO)}: {path.stat().st_size // 1000} kB, "
                          f"{time.perf_counter() - start:.1f} s")
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
