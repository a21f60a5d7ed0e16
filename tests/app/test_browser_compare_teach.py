"""The Compare and "Can you read this face?" pages, and the Photo page's printable report, in a real browser:
`streamlit run app.py` driven by Playwright with Debian's Chromium. Each page is loaded, its main action done
(two faces compared, one face under two models; a guess revealed, the class's votes counted; the report
downloaded), and screenshots at 1280x720 and 768 px wide go to screenshots/ (9-compare*.png, 10-teach*.png).

Needs: `apt-get install -y chromium` and `pip install playwright` (never `playwright install`).
"""
from __future__ import annotations

import csv
import re
import time
from html.parser import HTMLParser

import pytest

from fer_core.labels import CLASSES
from fer_core.model.catalog import builtin_models
from tests.app.browser_support import (
    CHROMIUM,
    SANITY_S,
    WIDE,
    both_widths,
    settle,
    wait_count,
)
from tests.conftest import require_shared

if not CHROMIUM.exists():
    pytest.skip("no browser: /usr/bin/chromium is missing (apt-get install -y chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

TRUST_NOTE = re.compile("How far to trust this map")
SECOND = "fer-resnet10t-cbam-v1"


def open_page(browser, url: str, ready: str):
    page = browser.new_page(viewport=WIDE, accept_downloads=True)
    page.goto(url)
    page.get_by_text(ready).first.wait_for(timeout=SANITY_S * 1000)
    settle(page)
    return page


def upload(page, label: str, *paths) -> None:
    """Files into the uploader whose label starts with `label` (a page being rerun can briefly show two)."""
    box = page.get_by_test_id("stFileUploader").filter(has_text=label)
    box.get_by_test_id("stFileUploaderDropzoneInput").set_input_files([str(p) for p in paths])


def choose_radio(page, text: str, then: str) -> None:
    """Pick a radio option, then wait for `then` to show: the rerun it starts has drawn the new view."""
    page.locator('[data-testid="stRadio"] label').filter(has_text=text).first.click()
    page.get_by_text(then).first.wait_for(timeout=SANITY_S * 1000)
    settle(page)


def trust_notes(page, n: int) -> int:
    """Wait until the page shows `n` trust notes and none still pending, with the run over (while a rerun draws
    the new panels, the last run's are still on the page below them); the count of notes then."""
    notes, pending = page.get_by_text(TRUST_NOTE), page.get_by_text("Checking how far to trust this map")
    deadline = time.monotonic() + SANITY_S
    while time.monotonic() < deadline:
        settle(page)
        if notes.count() == n and pending.count() == 0:
            break
        page.wait_for_timeout(200)
    return notes.count()


def main_text(page) -> str:
    return page.get_by_test_id("stMain").inner_text()


def test_compare_two_faces_then_two_models(browser, server: str) -> None:
    photos = require_shared("media", "photos")
    page = open_page(browser, server + "/compare", "What to compare")
    assert page.get_by_text("Upload one photo with two or more faces").count() == 1
    upload(page, "One photo with two or more faces", photos / "faceapi_bbt1.jpg")
    page.get_by_text("What differs").wait_for(timeout=SANITY_S * 1000)
    assert trust_notes(page, 2) == 2, "both sides' trust notes"
    assert page.get_by_role("heading", name=re.compile(r"^Face A: \w+ \(\d+%\)")).count() == 1
    assert page.get_by_role("heading", name=re.compile(r"^Face B: \w+ \(\d+%\)")).count() == 1
    assert "not how the two people feel" in main_text(page)
    both_widths(page, "9-compare")

    if SECOND not in builtin_models():
        pytest.skip(f"{SECOND} is not shipped, so there is no second model")
    choose_radio(page, "Two models", "Second model")
    # a face the two shipped models read differently
    upload(page, "A photo with a face", photos / "faceapi_disgusted.jpg")
    page.get_by_role("heading", name=re.compile(rf"^{SECOND}: \w+ \(\d+%\)")).wait_for(timeout=SANITY_S * 1000)
    assert trust_notes(page, 2) == 2
    text = main_text(page)
    assert "neither is the truth" in text or "broadly agree" in text, text
    both_widths(page, "9-compare-models")
    page.close()


def test_teach_with_ferplus_reveals_what_people_said(browser, server: str) -> None:
    label_csv = require_shared("data", "ferplus", "FER2013Test", "label.csv")
    with open(label_csv, newline="") as f:
        votes = {r[0]: [int(v) for v in r[2:12]] for r in csv.reader(f) if len(r) >= 12}
    page = open_page(browser, server + "/teach", "Which facial expression does this face show?")
    assert page.get_by_role("button", name="Happy").count() == 1 and page.get_by_role("button").filter(
        has_text=re.compile("^(Neutral|Surprised|Sad|Angry|Disgusted|Afraid)$")).count() == 6
    both_widths(page, "10-teach")
    name = re.search(r"fer\d+\.png", main_text(page)).group(0)
    page.get_by_role("button", name="Neutral").click()
    page.get_by_text("What people said").wait_for(timeout=SANITY_S * 1000)
    assert trust_notes(page, 1) == 1
    text = main_text(page)
    row = votes[name]
    for cls, n in zip(CLASSES, row[:8]):
        assert (f"said {cls}" in text) == (n > 0), (row, text)
    assert "Faces revealed\n\n1" in text or re.search(r"Faces revealed\s+1", text), text
    both_widths(page, "10-teach-revealed")

    choose_radio(page, "My own photos", "Photos with faces")
    upload(page, "Photos with faces", require_shared("media", "photos", "faceapi_bbt2.jpg"))
    page.get_by_text("0 votes so far").wait_for(timeout=SANITY_S * 1000)
    for button in ("Happy", "Happy", "Neutral"):
        page.get_by_role("button", name=button).click()
        settle(page)
    page.get_by_text("3 votes so far").wait_for(timeout=SANITY_S * 1000)
    page.get_by_role("button", name="Reveal the votes and the model").click()
    page.get_by_text("2 of 3 people in the class said happiness, 1 said neutral").wait_for(timeout=SANITY_S * 1000)
    assert trust_notes(page, 1) == 1
    both_widths(page, "10-teach-own-photos")
    page.close()


class _Report(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.alts: list[str] = []
        self.faces = 0

    def handle_starttag(self, tag, attrs) -> None:
        attrs = dict(attrs)
        self.alts += [attrs.get("alt") or ""] if tag == "img" else []
        self.faces += tag == "section" and "face" in (attrs.get("class") or "").split()


def test_photo_page_report_reuses_the_cards_heatmaps(browser, server: str) -> None:
    page = open_page(browser, server + "/photo", "Choose one or more photos")
    upload(page, "Photos", require_shared("media", "photos", "faceapi_bbt2.jpg"))
    faces = page.get_by_role("heading", name=re.compile(r"^Face \d+: \w+ \(\d+%\)"))
    wait_count(page, faces, 1)
    settle(page)
    n = faces.count()
    assert wait_count(page, page.get_by_text(TRUST_NOTE), n) >= n
    assert page.get_by_role("checkbox", name="Blur faces in the report").is_checked()
    with page.expect_download(timeout=SANITY_S * 1000) as download:
        page.get_by_role("button", name="Printable report (HTML)").click()
    html = open(download.value.path(), encoding="utf-8").read()
    report = _Report()
    report.feed(html)
    assert report.faces == n and all(a.strip() for a in report.alts)
    assert html.count("How far to trust this map") == n and "had not run yet" not in html, \
        "the report carries the trust checks the page already ran"
    assert not any("as the model saw it" in a for a in report.alts), "faces are blurred by default"
    assert "emotion" not in html.lower()
    page.close()
