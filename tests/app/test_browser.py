"""The dashboard in a real browser: `streamlit run app.py` as a subprocess, driven by Playwright with
Debian's Chromium. Checks that an uploaded group photo gets boxes, labels, charts and heatmaps, saves a
screenshot of every page, and measures these timings (printed and written to timings.json next to the
screenshots; benchmarks, not assertions):

- start-up: `streamlit run` -> the Home page interactive (target <= 8 s), and on to the sample photo's first
  label after a click on "Analyse this sample photo" (target <= 4 s from launch: the server warms the model
  as it starts, `ui/warmup.py`);
- a 6-face group photo: upload -> every face's heatmap (target 1.5 s) and every trust note (target 2.5 s);
- analysis: upload of a 3-face 1280x720 photo -> every face's result with its heatmap shown (target <= 1.5 s),
  and until the three heatmap trust notes (filled in afterwards) are shown too.

Each span ends when the page itself showed what it waited for, every picture on it loaded, as noted in the page
by `browser_support.WATCH_JS`; Playwright's own waits look only every 500 ms after the first quarter second, which
added up to half a second to a span. The start-up's visitor presses the sample button as soon as it is drawn.

Screenshots go to $FER_LENS_SCREENSHOTS, else <repo>/screenshots (git-ignored).
Needs: `apt-get install -y chromium` and `pip install playwright` (never `playwright install`).
"""
from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from fer_core.evaluation.perturb import PERTURBATIONS
from fer_core.report import png_bytes
from fer_core.samples import ROBUSTNESS_CHANGE
from tests.app.browser_support import (
    CHROMIUM,
    DEFAULT_HEATMAP,
    SANITY_S,
    SHOTS,
    click_when_shown_code,
    settle,
    shoot,
    shown_at,
    streamlit_app,
    wait_count,
    watch,
    watch_code,
    watch_pages,
)
from tests.conftest import require_shared

TARGET_STARTUP_S, TARGET_ANALYSIS_S, TARGET_SAMPLE_LABEL_S = 8.0, 1.5, 4.0
TARGET_GROUP_HEATMAPS_S, TARGET_GROUP_TRUST_S = 1.5, 2.5
FACE_HEADING = re.compile(r"^Face \d+: \w+ \(\d+%\)")
FACE_LABEL_JS = r"Face \d+: \w+ \(\d+%\)"  # the same heading, in the page's text
RESULTS_DONE = "on every face"  # the whole-photo heatmap caption, drawn after every face card is ready
TRUST_NOTE = re.compile("How far to trust this map:")  # filled in after the heatmaps, one per face
SAMPLE_BUTTON = "Analyse this sample photo"

if not CHROMIUM.exists():
    pytest.skip("no browser: /usr/bin/chromium is missing (apt-get install -y chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")


@pytest.fixture(scope="module")
def timings() -> Iterator[dict]:
    found: dict = {"targets_s": {"startup": TARGET_STARTUP_S, "analysis_3_faces_1280x720": TARGET_ANALYSIS_S,
                                 "launch_to_sample_label": TARGET_SAMPLE_LABEL_S,
                                 "group_6_faces_heatmaps": TARGET_GROUP_HEATMAPS_S,
                                 "group_6_faces_trust_notes": TARGET_GROUP_TRUST_S}}
    yield found
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "timings.json").write_text(json.dumps(found, indent=2) + "\n")
    print("\nbrowser timings: " + json.dumps(found), file=sys.stderr)


@pytest.fixture(scope="module")
def server(browser, timings: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running `streamlit run app.py`; records launch -> Home interactive, and -> the sample's first label, in
    `timings`, as the page itself saw them (`watch_pages`)."""
    log = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    watch_pages(page)
    # A visitor who clicks as soon as the button is drawn: no settling or screenshot inside the timed span.
    page.add_init_script(click_when_shown_code("sample button", SAMPLE_BUTTON)
                        + watch_code("label", FACE_LABEL_JS, images=True))
    start = time.time()
    with streamlit_app(log) as (url, _):
        healthy = time.time() - start
        page.goto(url)
        timings["startup_s"] = round(shown_at(page, "sample button") - start, 2)
        timings["startup_health_s"] = round(healthy, 2)
        timings["launch_to_sample_label_s"] = round(shown_at(page, "label") - start, 2)
        page.get_by_role("heading", name=FACE_HEADING).first.wait_for(timeout=SANITY_S * 1000)
        page.close()  # its init code would press the sample button again on every page it loads
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)  # then Home's picture, settled
        page.get_by_role("button", name="Analyse this sample photo").wait_for(timeout=SANITY_S * 1000)
        settle(page)
        shoot(page, "1-home")
        page.close()
        yield url


def upload(page, path: Path, trust_notes: int = 0) -> tuple[float, float | None]:
    """Upload one file on a fresh Photo page (`open_photo_page`). Seconds until the page showed every face's
    result and heatmap, and until it showed `trust_notes` trust notes (None if 0 asked for)."""
    assert page.get_by_text(RESULTS_DONE).count() == 0, "upload() times a page that has shown no results yet"
    watch(page, "results", RESULTS_DONE, images=True)  # the text, and every picture loaded
    if trust_notes:
        watch(page, "trust notes", TRUST_NOTE.pattern, trust_notes)
    start = time.time()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
    results = shown_at(page, "results") - start
    return results, shown_at(page, "trust notes") - start if trust_notes else None


def open_photo_page(browser, server: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    watch_pages(page)
    page.goto(server + "/photo")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').wait_for(state="attached",
                                                                         timeout=SANITY_S * 1000)
    settle(page)
    return page


def test_startup_is_timed(server: str, timings: dict) -> None:
    assert timings["startup_s"] < SANITY_S


def test_group_photo_shows_faces_labels_chart_and_heatmap(browser, server: str) -> None:
    photo = require_shared("media/photos/faceapi_bbt1.jpg")
    page = open_photo_page(browser, server)
    upload(page, photo)
    settle(page)
    faces = page.get_by_role("heading", name=re.compile(r"^Face \d+: \w+ \(\d+%\)")).count()
    assert faces >= 2, "the group photo should give several faces"
    assert page.locator(".fer-score-bars").count() == faces, "one set of score bars per face"
    assert page.locator(".fer-expression-key").count() == 1, "the colour key"
    assert page.get_by_text(DEFAULT_HEATMAP).count() == faces
    assert page.get_by_text(re.compile(r"^\d+ faces found")).count() == 1  # the annotated photo's caption
    assert wait_count(page, page.get_by_text(TRUST_NOTE), faces) == faces
    assert page.get_by_role("button", name=re.compile(r"^Results as ")).count() == 2
    shoot(page, "2-photo-group")
    page.close()


def test_six_face_group_photo_heatmaps_and_trust_notes_are_timed(browser, server: str, timings: dict,
                                                                  tmp_path: Path) -> None:
    """Six real one-face photos tiled 3 x 2 into one 960x640 group photo: every heatmap, then every trust
    note, timed from the upload."""
    import cv2
    import numpy as np

    from fer_core.imageio import load_image

    names = ("happy", "sad", "angry", "surprised", "fearful", "disgusted")
    tiles = [cv2.resize(load_image(require_shared(f"media/photos/faceapi_{n}.jpg")), (320, 320)) for n in names]
    photo = tmp_path / "six-faces.png"
    photo.write_bytes(png_bytes(np.concatenate([np.concatenate(tiles[:3], 1), np.concatenate(tiles[3:], 1)], 0)))
    page = open_photo_page(browser, server)
    upload(page, require_shared("media/photos/faceapi_happy.jpg"))  # warm-up
    page.close()
    page = open_photo_page(browser, server)
    heatmaps, trust = upload(page, photo, trust_notes=6)
    faces = page.get_by_role("heading", name=FACE_HEADING).count()
    timings["group_6_faces_heatmaps_s"] = round(heatmaps, 2)
    timings["group_6_faces_trust_notes_s"] = round(trust, 2)
    assert faces == 6, "six one-face photos give six faces"
    assert page.get_by_text(TRUST_NOTE).count() == faces
    page.close()


def test_three_face_photo_analysis_is_timed(browser, server: str, timings: dict, tmp_path: Path) -> None:
    require_shared("media/photos/faceapi_surprised.jpg")
    from fer_core.bench.latency import sample_photo_1280x720

    rgb, _ = sample_photo_1280x720()
    photo = tmp_path / "three-faces-1280x720.png"
    photo.write_bytes(png_bytes(rgb))
    page = open_photo_page(browser, server)
    upload(page, require_shared("media/photos/faceapi_happy.jpg"))  # warm-up: model and detector load
    page.close()
    page = open_photo_page(browser, server)  # a new session, so the timed upload is the only photo
    seconds, trust = upload(page, photo, trust_notes=3)
    timings["analysis_3_faces_1280x720_s"] = round(seconds, 2)
    timings["analysis_with_trust_notes_s"] = round(trust, 2)
    settle(page)
    assert page.get_by_role("heading", name=re.compile(r"^Face \d+:")).count() == 3
    assert seconds < SANITY_S
    shoot(page, "3-photo-three-faces")
    page.close()


def test_model_page(browser, server: str) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server + "/model")
    page.get_by_text("Article 5(1)(f)").wait_for(timeout=SANITY_S * 1000)
    settle(page)
    assert page.get_by_role("heading", name="How often is it right?").count() == 1
    shoot(page, "4-model")
    page.close()


def test_robustness_page(browser, server: str) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server + "/robustness")
    page.get_by_text("Every change at once").wait_for(timeout=SANITY_S * 1000)
    settle(page)
    assert page.get_by_role("heading", name=re.compile(r"^Original: \w+ \(\d+%\)")).count() == 1
    first = PERTURBATIONS[ROBUSTNESS_CHANGE].title  # the change the page starts with (measured: fer_core/samples.py)
    assert page.get_by_role("heading", name=re.compile(rf"^{re.escape(first)}: \w+ \(\d+%\)")).count() == 1
    # image captions are drawn once their pictures have loaded, which can trail the script under load
    assert wait_count(page, page.get_by_text(DEFAULT_HEATMAP), 2) == 2
    shoot(page, "5-robustness")
    page.close()
