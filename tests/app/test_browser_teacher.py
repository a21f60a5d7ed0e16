"""A teacher's first ten minutes (#20) in a real browser: every page this issue touched at 768 px wide and on a
1280x720 projector, each saved as screenshots/<n>-<page>-768.png and -1280x720.png. On each page: every
picture has alt text and nothing spills sideways; on the Photo page the colour scale and the full-screen
button cover nothing and the box labels are readable at the size the photo is shown; on the Video page the
blurred copy shows without reopening anything; and the dark theme follows the system setting.

Needs: `apt-get install -y chromium` and `pip install playwright` (never `playwright install`).
"""
from __future__ import annotations

import re

import pytest

from fer_core.draw import LABEL_PX, label_font
from tests.app.browser_support import CHROMIUM, SANITY_S, settle, shoot, wait_count
from tests.conftest import require_shared

if not CHROMIUM.exists():
    pytest.skip("no browser: /usr/bin/chromium is missing (apt-get install -y chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

SIZES = {"768": {"width": 768, "height": 1024}, "1280x720": {"width": 1280, "height": 720}}
TRUST_NOTE = re.compile("How far to trust this map:")
MIN_LABEL_PX = 12  # letters of the box labels on screen, at least

MISSING_ALT_JS = """() => Array.from(document.images).filter(i => !(i.getAttribute('alt') || '').trim())
    .map(i => (i.getAttribute('src') || '').slice(0, 60))"""
SIDEWAYS_JS = """() => { const m = document.querySelector('[data-testid="stMain"]');
    return m ? m.scrollWidth - m.clientWidth : 0; }"""


def open_page(browser, server: str, path: str, size: str, scheme: str = "light"):
    context = browser.new_context(viewport=SIZES[size], color_scheme=scheme)
    page = context.new_page()
    page.set_default_timeout(SANITY_S * 1000)
    page.goto(server + path)
    page.get_by_role("heading", level=1).first.wait_for()
    settle(page)
    return page


def check_page(page, name: str) -> None:
    """Alt text on every picture, nothing wider than the window, then the screenshot."""
    page.wait_for_timeout(300)  # pictures are mounted once loaded
    assert page.evaluate(MISSING_ALT_JS) == [], f"{name}: pictures without alt text"
    assert page.evaluate(SIDEWAYS_JS) <= 1, f"{name}: the page is wider than the window"
    shoot(page, name)


def boxes_overlap(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


@pytest.mark.parametrize("size", SIZES)
def test_home(browser, server: str, size: str) -> None:
    page = open_page(browser, server, "/", size)
    page.get_by_role("button", name="Analyse this sample photo").wait_for()
    assert page.get_by_text(re.compile("^Why this photo")).count() == 1
    check_page(page, f"1-home-{size}")
    page.context.close()


@pytest.mark.parametrize("size", SIZES)
def test_photo(browser, server: str, size: str) -> None:
    photo = require_shared("media", "photos", "faceapi_bbt1.jpg")
    page = open_page(browser, server, "/photo", size)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(photo))
    faces = page.get_by_role("heading", name=re.compile(r"^Face \d+: \w+ \(\d+%\)"))
    faces.first.wait_for()
    settle(page)
    n = faces.count()
    assert n >= 3 and wait_count(page, page.get_by_text(TRUST_NOTE), n) == n
    settle(page)

    # box labels: letters at least MIN_LABEL_PX tall as the annotated photo is shown here
    photo_img = page.get_by_role("img", name=re.compile(r"with a numbered box on each"))
    natural, shown = photo_img.evaluate("i => [i.naturalWidth, i.getBoundingClientRect().width]")
    scale, thickness = label_font(natural, 420)
    import cv2

    (_, letters), _ = cv2.getTextSize("Face", cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    assert letters * shown / natural >= MIN_LABEL_PX, f"labels {letters * shown / natural:.1f} px tall on screen"
    assert LABEL_PX >= MIN_LABEL_PX

    # the first face card: the heatmap (with its colour scale under it) covers neither pickers nor button
    main = page.locator('[data-testid="stMain"]')
    heat = main.get_by_role("img", name=re.compile("heatmap of face 1 "))
    pickers = main.locator('[data-testid="stSelectbox"]')
    why, rather = pickers.filter(has_text="Why this expression?").first, pickers.filter(has_text="rather than").first
    button = main.get_by_role("button", name=re.compile("Heatmap PNG")).first
    heat.scroll_into_view_if_needed()
    for other in (why, rather, button):
        assert not boxes_overlap(heat.bounding_box(), other.bounding_box()), "the heatmap covers a control"
    heat.hover()  # the picture's full-screen button shows on hover: it must not lie over "…rather than"
    page.wait_for_timeout(500)
    shown = [t for t in main.locator('[data-testid="stElementToolbar"]').all() if t.is_visible()]
    assert shown, "hovering the heatmap shows its full-screen button"
    for toolbar in shown:
        for other in (why, rather):
            assert not boxes_overlap(toolbar.bounding_box(), other.bounding_box()), "full-screen icon over a picker"
    check_page(page, f"2-photo-{size}")
    page.context.close()


@pytest.mark.parametrize("size", SIZES)
def test_webcam_before_start(browser, server: str, size: str) -> None:
    page = open_page(browser, server, "/webcam", size)
    page.frame_locator("iframe[title*='webrtc' i]").get_by_role("button", name=re.compile("^start$", re.I)).wait_for()
    settle(page)
    assert page.get_by_text("Quicker live view").count() == 0, "the engine switch is a technical detail"
    check_page(page, f"3-webcam-{size}")
    page.context.close()


@pytest.mark.parametrize("size", SIZES)
def test_video_and_its_blurred_copy(browser, server: str, size: str) -> None:
    clip = require_shared("media", "videos", "liveportrait_d18.mp4")
    page = open_page(browser, server, "/video", size)
    page.get_by_role("combobox", name="Frames analysed").click()
    page.get_by_role("option", name=re.compile("^1 per second")).click()
    settle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(clip))
    page.get_by_text(re.compile("face followed through")).wait_for(timeout=4 * SANITY_S * 1000)
    make = page.get_by_role("button", name="Make the blurred copy")
    make.wait_for(timeout=2 * SANITY_S * 1000)
    settle(page)
    make.click()
    video = page.locator('[data-testid="stVideo"]')
    video.wait_for(timeout=2 * SANITY_S * 1000)  # shown in place: nothing to reopen
    settle(page)
    assert video.is_visible() and page.get_by_role("button", name="Download the blurred copy (MP4)").is_visible()
    assert make.count() == 0
    check_page(page, f"4-video-{size}")
    page.context.close()


@pytest.mark.parametrize("size", SIZES)
def test_robustness(browser, server: str, size: str) -> None:
    page = open_page(browser, server, "/robustness", size)
    page.get_by_text("Every change at once").wait_for()
    settle(page)
    assert wait_count(page, page.get_by_role("img", name=re.compile("heatmap of the")), 2) == 2
    check_page(page, f"5-robustness-{size}")
    page.context.close()


@pytest.mark.parametrize("size", SIZES)
def test_model(browser, server: str, size: str) -> None:
    page = open_page(browser, server, "/model", size)
    page.get_by_text("Article 5(1)(f)").wait_for()
    settle(page)
    assert page.get_by_text(re.compile("AUC")).count() == 0, "AUC figures are technical details"
    check_page(page, f"6-model-{size}")
    page.context.close()


def _luminance(css: str) -> float:
    r, g, b = (int(v) for v in re.findall(r"\d+", css)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def test_dark_theme_follows_the_system_and_charts_sit_on_it(browser, server: str) -> None:
    photo = require_shared("media", "photos", "faceapi_happy.jpg")
    page = open_page(browser, server, "/photo", "1280x720", scheme="dark")
    app = page.locator('[data-testid="stApp"]')
    assert _luminance(app.evaluate("e => getComputedStyle(e).backgroundColor")) < 0.2
    assert _luminance(app.evaluate("e => getComputedStyle(e).color")) > 0.7
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(photo))
    page.get_by_role("heading", name=re.compile(r"^Face 1:")).wait_for()
    settle(page)
    scores = page.locator(".fer-score-bars").first  # the face's score rows: the theme's light text on dark
    assert _luminance(scores.evaluate("e => getComputedStyle(e).color")) > 0.7
    assert scores.evaluate("e => getComputedStyle(e).backgroundColor") in ("rgba(0, 0, 0, 0)", "transparent")
    check_page(page, "2-photo-dark-1280x720")
    page.context.close()
