"""The sidebar settings every page shares (face detector, explanation method), drawn once by app.py.

Widgets drawn in the entry script keep their values while the visitor moves between pages. This module
imports nothing heavy (no torch, no Captum), so the Home page is up before the model is loaded; a test
keeps METHOD_NOTES in step with `fer_core.explain_methods.METHODS`.
"""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from fer_core.catalog import default_model, describe, model_choices
from fer_core.detect import DEFAULT_DETECTOR, DETECTORS

# Occlusion, not Grad-CAM: on the built-in model (FER2013Test faces, `explain-bench`) its maps pass the
# trust check on about half the faces, Grad-CAM's on about one in ten, no better than a plain blob in the
# middle of the face. It also explains itself to a non-expert ("each patch was covered in turn"), and at
# ~0.2 s per face it is quick enough for photos, video moments and frozen webcam frames.
DEFAULT_METHOD = "occlusion"

DETECTOR_NOTES = {
    "mtcnn": "MTCNN (recommended)",
    "haar": "Haar cascade (simpler)",
}
METHOD_NOTES = {
    "gradcam": "Grad-CAM (fastest)",
    "guided_gradcam": "Guided Grad-CAM",
    "integrated_gradients": "Integrated Gradients",
    "occlusion": "Occlusion (recommended)",
    "smoothgrad": "SmoothGrad",
    "attention": "Attention (the model's own)",
}


@dataclass(frozen=True)
class Settings:
    detector: str
    method: str
    model: str = ""


def current_model() -> str:
    """The model this session chose in the sidebar (the default before the sidebar is drawn)."""
    return st.session_state.get("model") or default_model()


def sidebar() -> Settings:
    """Draw the shared settings in the sidebar and return their current values."""
    for key in ("model", "detector", "method"):  # keep the choices when a page run skips the sidebar
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    # Defaults go through Session State, not `index=`: a widget given both logs a warning on every run.
    st.session_state.setdefault("detector", DEFAULT_DETECTOR)
    st.session_state.setdefault("method", DEFAULT_METHOD)
    with st.sidebar:
        st.subheader("Settings")
        models = model_choices()
        model = st.selectbox("Model", models, key="model", format_func=describe,
                             help="The trained network that reads the faces. Every page uses the one chosen "
                                  "here; 'About the model' describes it. Models with attention maps can also "
                                  "show where they looked.") if len(models) > 1 else models[0]
        detectors = sorted(DETECTORS)
        detector = st.selectbox("Face finder", detectors, key="detector",
                                format_func=lambda d: DETECTOR_NOTES.get(d, d),
                                help="The program that first finds the faces in a photo. MTCNN finds more faces, "
                                     "tilted ones too; the older Haar cascade may miss some.")
        methods = list(METHOD_NOTES)
        method = st.selectbox("Heatmap method", methods, key="method",
                              format_func=METHOD_NOTES.get,
                              help="How the heatmap on each face is computed. All answer the same question "
                                   "in different ways. Occlusion (recommended): covers the face patch by patch "
                                   "and watches the score; its maps pass the trust check most often (see "
                                   "'About the model'). Grad-CAM: broad areas, quickest, but often no better "
                                   "than a guess at the middle of the face. Guided Grad-CAM: fine edges inside "
                                   "those areas. Integrated Gradients and SmoothGrad: pixel detail. Attention: "
                                   "where the model itself chose to look (models with attention blocks only).")
        st.caption("🔒 Photos stay on this computer, in memory only.")
    return Settings(detector, method, model)


def current() -> Settings:
    """The settings as last chosen (defaults before the sidebar has been drawn)."""
    return Settings(st.session_state.get("detector", DEFAULT_DETECTOR),
                    st.session_state.get("method", DEFAULT_METHOD), current_model())
