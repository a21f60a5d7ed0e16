"""The model and recognizers, loaded once per server process and shared read-only by every session."""
from __future__ import annotations

import streamlit as st
import torch

from fer_core.model.checkpoint import LoadedModel, load_model
from fer_core.recognizer import Recognizer

from .settings import current_model


@st.cache_resource(show_spinner="Loading the facial-expression model…")
def _load_model(name: str) -> LoadedModel:
    # One torch thread per request: each face costs a few ms, and on a 2-core machine a second torch
    # thread only fights the browser and the other sessions for the CPU (measured in tests/app/test_browser.py).
    torch.set_num_threads(1)
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
    return Recognizer(model=_load_model(model_name), detector=detector)


def get_recognizer(detector: str, model_name: str | None = None) -> Recognizer:
    """One shared recognizer per face detector and model (the sidebar's unless `model_name` is given), over
    the cached model object (never reloaded on rerun)."""
    get_model()  # a friendly stop when the model is missing
    return _recognizer(detector, model_name or current_model())
