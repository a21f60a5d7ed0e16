"""The Video page in a real browser: upload a shared clip, see the progress, then the timeline, the frame
with its heatmap and the key moments; pick a key moment; a screenshot goes to screenshots/ (7-video-clip.png).

Needs: `apt-get install -y chromium` and `pip install playwright` (never `playwright install`).
"""
from __future__ import annotations

import re
import sys
import time
from typing import Iterator

import pytest

from tests.app.browser_support import (
    CHROMIUM,
    SANITY_S,
    open_via_navigation,
    settle,
    shoot,
)
from tests.conftest import require_shared

if not CHROMIUM.exists():
    pytest.skip("no browser: /usr/bin/chromium is missing (apt-get install -y chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

DONE = re.compile(r"face followed through")


@pytest.fixture(scope="module")
def page(browser, server: str) -> Iterator:
    pg = open_via_navigation(browser, server, "Video clip", {"width": 1400, "height": 1000})
    yield pg
    pg.close()


def test_upload_shows_timeline_frame_and_key_moments(page) -> None:
    clip = require_shared("media", "videos", "liveportrait_d3.mp4")
    assert page.get_by_text("Article 5(1)(f)").count() == 1, "the responsible-use notice is on the page"
    start = time.perf_counter()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(clip))
    page.get_by_text(DONE).wait_for(timeout=4 * SANITY_S * 1000)
    # the downloads come last in the script: once they are drawn, so is everything above them
    page.get_by_role("button", name=re.compile("Timeline as a table")).wait_for(timeout=2 * SANITY_S * 1000)
    print(f"\nvideo page: upload of {clip.name} -> results shown in {time.perf_counter() - start:.1f} s",
          file=sys.stderr)
    settle(page, timeout_s=2 * SANITY_S)
    assert page.get_by_role("heading", name="Face 1").count() == 1
    assert page.locator(".js-plotly-plot").count() == 1, "one timeline for the one face"
    assert page.get_by_text(re.compile("heatmaps: warm colours")).count() == 1
    assert page.get_by_role("slider").count() == 1
    moments = page.get_by_role("button", name=re.compile(r"Show \d+\.\d s$"))
    assert moments.count() >= 1, "key moments are offered"
    label = moments.last.inner_text()
    moments.last.click()
    when = label.split("Show ")[-1].removesuffix(" s")
    moved = page.get_by_text(re.compile(rf"^At {re.escape(when)} s:"))
    moved.wait_for(timeout=2 * SANITY_S * 1000)
    settle(page, timeout_s=2 * SANITY_S)
    assert moved.count() == 1, "the frame viewer moved there"
    # the previous moment's note can linger while the rerun replaces it (seen once under load): wait for one
    sync_api.expect(page.get_by_text("How far to trust this map:")).to_have_count(1, timeout=2 * SANITY_S * 1000)
    shoot(page, "7-video-clip")
