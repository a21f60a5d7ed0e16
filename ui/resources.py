"""The model and recognizers, loaded once per server process and shared read-only by every session."""
from __future__ import annotations

import streamlit as st
import torch

from fer_core.models import LoadedModel, load_model
from fer_core.recognizer import Recognizer


@st.cache_resource(show_spinner="Loading the facial-expression model…")
def _load_model() -> LoadedModel:
    # One torch thread per request: each face costs a few ms, and on a 2-core machine a second torch
    # thread only fights the browser and the other sessions for the CPU (measured in tests/test_browser.py).
    torch.set_num_threads(1)
    return load_model()


def get_model() -> LoadedModel:
    """The classifier (built-in, or `$FER_LENS_MODEL`); stops the page with a clear message if missing."""
    try:
        return _load_model()
    except FileNotFoundError as exc:
        st.error(f"No facial-expression model is installed, so FER Lens cannot analyse photos yet. ({exc})")
        st.stop()


@st.cache_resource(show_spinner="Loading the face detector…")
def _recognizer(detector: str) -> Recognizer:
    return Recognizer(model=get_model(), detector=detector)


def get_recognizer(detector: str) -> Recognizer:
    """One shared recognizer per face detector, all over the same model object (never reloaded on rerun)."""
    return _recognizer(detector)
