"""The Many clips page in a real browser: upload two shared clips at once, start, follow the progress to the
end, then the index table, the group summary and the downloads (the zip really downloads and holds every
clip's report). Screenshots before and after, at 1280 and 768 px wide, go to screenshots/ (8-many-clips*.png).

Needs: `apt-get install -y chromium` and `pip install playwright` (never `playwright install`).
"""
from __future__ import annotations

import io
import re
import sys
import time
import zipfile
from typing import Iterator

import pytest

from tests.app.browser_support import (
    CHROMIUM,
    SANITY_S,
    WIDE,
    both_widths,
    open_via_navigation,
    settle,
    wait_count,
)
from tests.conftest import require_shared

if not CHROMIUM.exists():
    pytest.skip("no browser: /usr/bin/chromium is missing (apt-get install -y chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

CLIPS = ("liveportrait_d3.mp4", "liveportrait_d18.mp4")  # 12 s and 7 s


@pytest.fixture(scope="module")
def page(browser, server: str) -> Iterator:
    pg = open_via_navigation(browser, server, "Many clips", WIDE, accept_downloads=True)
    yield pg
    pg.close()


def test_upload_two_clips_run_the_batch_and_download_everything(page) -> None:
    videos = require_shared("media", "videos")
    assert page.get_by_text("Article 5(1)(f)").count() == 1, "the responsible-use notice is on the page"
    assert page.get_by_text("A folder on this computer").count() == 1, "127.0.0.1 is this computer"
    both_widths(page, "8-many-clips")

    rate = page.get_by_role("combobox", name="Frames analysed")
    rate.click()
    rate.press("ArrowDown")  # opens the list (a click only focuses it)
    page.get_by_role("option", name="1 per second (quickest)").click()
    settle(page)
    assert rate.input_value() == "1 per second (quickest)"
    start_s = time.perf_counter()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files([str(videos / n) for n in CLIPS])
    start = page.get_by_role("button", name="Start: analyse 2 clips")
    sync_api.expect(start).to_be_enabled(timeout=SANITY_S * 1000)
    start.click()
    page.get_by_text("Finished.", exact=True).wait_for(timeout=SANITY_S * 1000)
    print(f"\nmany clips: upload of 2 clips -> batch finished in {time.perf_counter() - start_s:.1f} s",
          file=sys.stderr)
    settle(page)
    main = page.get_by_test_id("stMain").inner_text()
    assert "2 clips: 2 analysed" in main, main
    tables = page.get_by_test_id("stDataFrame")
    assert wait_count(page, tables, 2) >= 2, "the index table and the group summary"
    reports = page.get_by_role("button", name="Open report")
    assert reports.count() == 2, "one report per clip"
    zip_button = page.get_by_role("button", name="Download everything (.zip)")
    with page.expect_download(timeout=SANITY_S * 1000) as download:
        zip_button.click()
    with zipfile.ZipFile(io.BytesIO(open(download.value.path(), "rb").read())) as z:
        names = z.namelist()
        index = z.read("index.csv").decode()
    assert sum(n.endswith("/report.html") for n in names) == 2 and "summary.csv" in names
    assert all(re.search(rf"{re.escape(n)},[^,]+,done,", index) for n in CLIPS), index
    both_widths(page, "8-many-clips-done")
