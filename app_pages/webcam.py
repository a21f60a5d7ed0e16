"""Webcam: facial expressions live from the camera, with a rolling chart per face, an optional personal
baseline, and "freeze and explain" with the Photo page's heatmaps."""
from __future__ import annotations

import streamlit as st

from fer_core.classroom.streams import STREAM_SLOTS
from fer_core.model.catalog import int8_twin
from ui import photo_view
from ui import webcam_view as view
from ui.classroom import live_webcams, webcam_gate
from ui.resources import get_recognizer
from ui.settings import current, technical
from ui.trust import trust_help

settings = current()
st.title("Webcam")
st.write("Turn on your camera: FER Lens finds each face and shows which facial expression it most resembles, "
         "live. Freeze a frame to see which parts of the face drove the scores.")

recognizer = get_recognizer(settings.detector.name)  # frozen frames: the sidebar's face finder
stream_detector = settings.detector.stream_name  # the live stream: faces near the camera
fast_twin = int8_twin(settings.model)

video_col, panel_col = st.columns([1, 1], gap="large")
with video_col:
    use_fast = fast_twin is not None and view.fast_engine_toggle()
    processor = view.session_processor(get_recognizer(stream_detector, fast_twin if use_fast else None))
    may_stream, per_frame, interval = webcam_gate()  # a class session: a cap on live webcams, the teacher's first
    processor.set_gate(per_frame, interval)
    if may_stream:
        player_playing = bool(view.stream(processor).state.playing)
        playing = view.camera_on(player_playing, processor)
    else:
        playing, player_playing = False, None  # no player: the panel does not look for frames
        st.info(f"{live_webcams(STREAM_SLOTS.pupil_cap)} Please wait a minute and try again, or use the Photo "
                "page meanwhile.", icon=":material/hourglass_top:")
        st.button("Try again", icon=":material/refresh:", key="webcam-retry")
        st.page_link("app_pages/photo.py", label="Go to the Photo page", icon=":material/add_a_photo:")
    view.controls(processor, recognizer, playing)
    st.caption("🔒 Frames are analysed in memory on this computer and never saved. Only the latest frame and "
               "the last 10 seconds of scores are kept, while this tab is open.")
with panel_col:
    view.live_panel(processor, playing, player_playing)

with st.expander("How the live view works", icon=":material/help:"):
    st.markdown(
        "- Each camera frame goes to FER Lens on this computer. With BlazeFace chosen, the stream uses its "
        "close-up net, made for faces near a camera. The face finder runs on every second frame "
        "(on every frame while no face is in view); in between, the boxes stay where they were, which at 30 "
        "frames a second is a few pixels at most.\n"
        "- Every face is scored on every frame, in one pass (the Photo page also scores a mirrored copy; a "
        "frozen frame gets that too). **Smoothing** averages over about half a second. The label on the video "
        "and the panel beside it show the same reading, renewed twice a second.\n"
        "- The live view runs on a **lighter copy of the same model**, several times quicker and nearly as "
        "accurate; frozen frames and heatmaps use the full model."
        + (" (Technically: its numbers are rounded to 8-bit integers (int8) and run by ONNX Runtime, 3 to 6 "
           "times quicker per face, within 0.1 points of the full model on the FER+ test faces.)"
           if technical() else "") + "\n"
        "- When the computer cannot keep up, frames are **skipped, not queued**, so the picture never lags "
        "behind. *Analysed per second* shows how it is doing"
        + (", and *Added delay* how much later than the camera a frame is shown" if technical() else "") + ".\n"
        "- Face numbers stay with a face while it is in view; a face that leaves for more than 2 seconds gets "
        "a new number when it comes back.\n"
        "- Scores say how much a face *looks like* the faces people labelled with each expression. They are "
        "not a measure of feelings.\n"
        "- A frozen frame's heatmaps carry a note on how far to trust them. In words for a class:\n"
        f"{trust_help()}")

result = view.frozen()
if result is not None:
    st.divider()
    st.subheader("Frozen frame", anchor=view.FROZEN_ANCHOR)
    view.scroll_to_frozen()
    st.caption("Scores of this single frame (with the mirrored pass, as on the Photo page), so they can "
               "differ a little from the smoothed live scores.")
    view.discard_button()
    if not result.faces:
        st.warning("No face was in view in the frozen frame.", icon=":material/search_off:")
    photo_view.show_photo(result, recognizer, settings)
