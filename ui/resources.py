"""The model and recognizers, loaded once per server process and shared read-only by every session.

A recognizer labels faces without torch (ONNX Runtime graph twins), so a page can show its first label while
torch is still loading; the torch model, for heatmaps, comes from `_load_model`, shared by every recognizer.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

import streamlit as st

from fer_core.classroom.access import classroom
from fer_core.recognizer import Recognizer

if TYPE_CHECKING:
    from fer_core.model.checkpoint import LoadedModel

from .settings import current_model

# In a class session one thread: the heavy work then leaves a core to the live streams and the server's own
# loop (with two, streams stalled while photos were analysed: `python -m tests.classroom.load_test`).
TORCH_THREADS = 1 if classroom().enabled else min(2, os.cpu_count() or 1)


@st.cache_resource(show_spinner="Loading the facial-expression model…")
def _load_model(name: str) -> LoadedModel:
    # Two torch threads (at most the CPU count; one in a class session, see TORCH_THREADS): a photo's heatmaps
    # and trust checks are single batched calls of several hundred model passes, which two threads finish sooner
    # (the 6-face photo of `tests/app/test_browser.py`: every heatmap 2.6 s -> 2.1 s after upload).
    import torch

    from fer_core.model.checkpoint import load_model

    torch.set_num_threads(TORCH_THREADS)
    return load_model(name)


def get_model() -> LoadedModel:
    """The classifier chosen in the sidebar (built-in default, or `$FER_LENS_MODEL`), loaded once per server
    and shared by every session; stops the page with a clear message if it is missing."""
    try:
        return _load_model(current_model())
    except FileNotFoundError as exc:
        st.error(f"No facial-expression model is installed, so FER Lens cannot analyse photos yet. ({exc})")
        st.stop()


@st.cache_resource(show_spinner="Loading the face detector…")
def _recognizer(detector: str, model_name: str) -> Recognizer:
    return Recognizer(model=model_name, detector=detector, load=lambda: _load_model(model_name),
                      threads=TORCH_THREADS)


def get_recognizer(detector: str, model_name: str | None = None) -> Recognizer:
    """One shared recognizer per face detector and model (the sidebar's unless `model_name` is given); its
    torch model, when a heatmap needs it, is the cached one (never reloaded on rerun). Stops the page with a
    clear message if the model is missing."""
    try:
        return _recognizer(detector, model_name or current_model())
    except FileNotFoundError as exc:
        st.error(f"No facial-expression model is installed, so FER Lens cannot analyse photos yet. ({exc})")
        st.stop()
