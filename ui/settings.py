"""The sidebar settings every page shares (face detector, explanation method, and the "Show technical
details" switch), drawn once by app.py.

Widgets drawn in the entry script keep their values while the visitor moves between pages. This module
imports nothing heavy (no torch, no Captum), so the Home page is up before the model is loaded. Every option,
label and note comes from the registries in fer_core (detectors, heatmap methods, installed models).
"""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from fer_core.detection.registry import DEFAULT_DETECTOR, DETECTORS, DetectorInfo, detector_info
from fer_core.explain.registry import DEFAULT_METHOD, METHODS, MethodInfo, method_info
from fer_core.model.catalog import default_model, model_choices, model_info

TECHNICAL_KEY = "technical"  # the "Show technical details" switch: off by default, kept for the session


def technical() -> bool:
    """Whether this session shows the technical details (engine, delay, model file names, AUC figures). Off,
    pages use plain words only; the switch in the sidebar keeps its value from page to page."""
    return bool(st.session_state.get(TECHNICAL_KEY, False))


@dataclass(frozen=True)
class Settings:
    detector: DetectorInfo
    method: MethodInfo
    model: str = ""


def _help(intro: str, entries) -> str:
    return intro + " " + " ".join(f"{e.label}: {e.note}." for e in entries)


def current_model() -> str:
    """The model this session chose in the sidebar (the default before the sidebar is drawn)."""
    return st.session_state.get("model") or default_model()


def sidebar() -> Settings:
    """Draw the shared settings in the sidebar and return their current values."""
    for key in ("model", "detector", "method", TECHNICAL_KEY):  # keep the choices when a run skips the sidebar
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    # Defaults go through Session State, not `index=`: a widget given both logs a warning on every run.
    st.session_state.setdefault("detector", DEFAULT_DETECTOR)
    st.session_state.setdefault("method", DEFAULT_METHOD)
    st.session_state.setdefault(TECHNICAL_KEY, False)
    with st.sidebar:
        st.subheader("Settings")
        st.toggle("Show technical details", key=TECHNICAL_KEY,
                  help="For the technically minded: the model's file name and engine, the delay the live view "
                       "adds, and the measurements behind the trust checks. Off, every page keeps to plain words.")
        models = model_choices()
        model = st.selectbox("Model", models, key="model", format_func=lambda m: model_info(m).label,
                             help=_help("The trained network that reads the faces. Every page uses the one chosen "
                                        "here; 'About the model' describes it.", map(model_info, models))
                             ) if len(models) > 1 and technical() else current_model()
        detector = st.selectbox("Face finder", list(DETECTORS), key="detector",
                                format_func=lambda d: DETECTORS[d].label,
                                help=_help("The program that first finds the faces in a photo.", DETECTORS.values()))
        method = st.selectbox("Heatmap method", list(METHODS), key="method",
                              format_func=lambda m: METHODS[m].label,
                              help=_help("How the heatmap on each face is computed. All answer the same question "
                                         "in different ways.", METHODS.values()))
        st.caption("🔒 Photos stay on this computer, in memory only.")
    return Settings(detector_info(detector), method_info(method), model)


def current() -> Settings:
    """The settings as last chosen (defaults before the sidebar has been drawn)."""
    return Settings(detector_info(st.session_state.get("detector", DEFAULT_DETECTOR)),
                    method_info(st.session_state.get("method", DEFAULT_METHOD)), current_model())
