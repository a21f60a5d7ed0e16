"""Warm-up at server start: `streamlit run app.py` finds the `st.App` in app.py, whose lifespan starts this in
a background thread before the first visitor arrives. It loads the default recognizer into the shared
resource cache (the very objects the pages then use) and runs the sample photo through it, which needs no
torch (ONNX Runtime graph twins); then it loads torch and the torch model, imports Captum and runs a heatmap
and its trust check, so that the first click on "Analyse this sample photo" waits for none of it: its label
is ready about a second before torch is. Nothing is written anywhere.
"""
from __future__ import annotations

import os
import threading
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from streamlit.logger import get_logger

# Idle OpenMP threads sleep rather than spin. The browser shares this computer's cores with the server; with
# spinning threads (OpenMP's default) the 6-face photo's heatmaps took 2.0 s after the upload instead of 1.6,
# because waiting torch threads kept a core from the browser and from each other (`tests/app/test_browser.py`).
# Alone the heavy work is ~7% slower. It must be set before torch loads, which is why it is here: streamlit
# imports this module (through app.py) as the server starts, before the warm-up imports torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

_LOG = get_logger(__name__)  # Streamlit's logger: its level and format, in the server's console
done = threading.Event()  # set when the warm-up has finished (or failed: the pages then load lazily)


def warm_up() -> None:
    """Load and exercise what the first visit needs; failures are logged, never raised."""
    start = time.perf_counter()
    try:
        # First what the sample's first label needs (recognition and the face cards' code), then the heatmaps'
        # libraries (Captum) and code.
        from fer_core.detection.registry import DEFAULT_DETECTOR
        from fer_core.model.catalog import default_model
        from fer_core.samples import sample_photo_png, sample_photo_rgb
        from ui import figures, photo_view  # noqa: F401 - the face cards' code (Captum comes later)
        from ui.resources import _recognizer

        recognizer = _recognizer(DEFAULT_DETECTOR, default_model())
        faces = recognizer.analyze_rgb(sample_photo_rgb())
        sample_photo_png()  # the bytes "Analyse this sample photo" hands the Photo page (cached)
        _LOG.info("FER Lens: labels ready %.1f s after start", time.perf_counter() - start)
        recognizer.loaded  # torch and the torch model, which the heatmaps need
        _LOG.info("FER Lens: model ready %.1f s after start", time.perf_counter() - start)

        import numpy as np

        from fer_core.explain.attribution import check_faithfulness_many, explain_crops
        from fer_core.explain.registry import DEFAULT_METHOD

        if faces:
            crops = np.stack([f.crop for f in faces])
            check_faithfulness_many(recognizer.loaded, crops, explain_crops(recognizer.loaded, crops,
                                                                            DEFAULT_METHOD))
        _LOG.info("FER Lens warmed up in %.1f s", time.perf_counter() - start)
    except Exception:  # noqa: BLE001 - a warm-up must never stop the server
        _LOG.exception("warm-up failed; the model will load on first use")
    finally:
        done.set()


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """The st.App lifespan: start the warm-up beside the server, and serve at once."""
    threading.Thread(target=warm_up, name="fer-lens-warmup", daemon=True).start()
    yield
