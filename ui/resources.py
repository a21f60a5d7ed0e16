"""The model and recognizers, loaded once per server process and shared read-only by every session."""
from __future__ import annotations

import streamlit as st

from fer_core.models import LoadedModel, load_model
from fer_core.recognizer import Recognizer


@st.cache_resource(show_spinner="Loading the facial-expression model…")
def _load_model() -> LoadedModel:
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
