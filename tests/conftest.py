"""Shared test helpers: where the optional real media live, and a clean skip when they are absent."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np
import pytest

from fer_core.paths import REPO_DIR, shared_dir

REPO = REPO_DIR  # the checkout, for tests that run its commands and scripts

SHARED = shared_dir()


def require_shared(*relpath: str) -> Path:
    """Path under the shared folder, or skip the test saying what is missing and how to provide it."""
    path = SHARED.joinpath(*relpath)
    if not path.exists():
        pytest.skip(f"shared test data not available: {path} is missing "
                    "(set FER_LENS_SHARED to the shared folder)")
    return path


@pytest.fixture
def media_photo() -> Callable[[str], np.ndarray]:
    """Loader for `media/photos/<name>` as HxWx3 uint8 RGB; skips the test when the photo is absent."""

    def load(name: str) -> np.ndarray:
        path = require_shared("media", "photos", name)
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        assert bgr is not None, f"could not decode {path}"
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    return load


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Debian's Chromium through Playwright, one per test module (skips its browser tests when either is
    missing). For tests/app and tests/classroom."""
    from tests.app.browser_support import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.skip("no browser: /usr/bin/chromium is missing (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()
