"""Fixtures every dashboard test module shares: an AppTest of app.py, and for the real-browser tests one
Chromium and one `streamlit run app.py` per module (a module may override either, e.g. with a fake camera)."""
from __future__ import annotations

from typing import Iterator

import pytest

from tests.app.app_support import model_env
from tests.conftest import REPO

APP = str(REPO / "app.py")
APPTEST_TIMEOUT = 300  # seconds per run: the first Photo run loads the model and the detector on a busy CPU


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch):
    """A fresh AppTest of the whole app, on the built-in model (or the dev checkpoint)."""
    from streamlit.testing.v1 import AppTest

    for key, value in model_env().items():
        monkeypatch.setenv(key, value)
    return AppTest.from_file(APP, default_timeout=APPTEST_TIMEOUT)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running `streamlit run app.py` on a free loopback port; its URL."""
    from tests.app.browser_support import streamlit_app

    with streamlit_app(tmp_path_factory.mktemp("streamlit") / "streamlit.log") as (url, _):
        yield url
