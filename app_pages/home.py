"""Home: what FER Lens does, privacy, responsible use, and a one-click try with a sample photo."""
from __future__ import annotations

import streamlit as st

from fer_core.samples import HOME_VERDICT, SAMPLE_CREDIT, sample_photo_rgb
from ui.trust import TRUST_FOR_CLASS, TRUST_WORDS

st.title("FER Lens")
st.markdown("#### See which **facial expression** a face shows, and why the computer thinks so.")

intro, sample = st.columns([3, 2], gap="large")
with intro:
    st.markdown(
        "1. **Upload a photo** with one or more faces.\n"
        "2. FER Lens **finds each face** and scores it for 8 facial expressions: neutral, happiness, "
        "surprise, sadness, anger, disgust, fear and contempt.\n"
        "3. A **heatmap** shows which parts of the face (eyes, mouth, …) drove the score, with a note on "
        "how far that map can be trusted.")
    st.success("🔒 **Private.** Everything runs on this computer. No photo leaves it, nothing is saved, "
               "and no usage data is collected.")
    st.warning(
        "**Use it with care.**\n"
        "- An expression is **not a feeling**: a smile can be polite and a frown can mean concentration. "
        "FER Lens reads faces, not minds.\n"
        "- The model learned from FER2013, a set of small web photos labelled by crowd workers. It is often "
        "wrong, and may work less well for some ages, skin tones or cultures, for glasses, masks or "
        "side-on faces.\n"
        "- Take special care with **children's faces**: get consent, and never use the results to judge, "
        "grade or monitor anyone. See *About the model* for the limits and the law.")
with sample:
    st.subheader("Try it now")
    st.image(sample_photo_rgb(), width=260, caption=SAMPLE_CREDIT, alt=f"The sample photo: {SAMPLE_CREDIT}")
    if st.button("Analyse this sample photo", type="primary", icon=":material/play_arrow:", key="try-sample"):
        st.session_state["use_sample"] = True
        st.switch_page("app_pages/photo.py")
    # The sample was chosen by measurement (fer_core/samples.py, `fer-lens showcase`); say what it showed.
    if HOME_VERDICT == "faithful":
        st.caption("Why this photo: its heatmap passes FER Lens's trust check (measured, not picked by eye).")
    else:
        st.caption("Why this photo: of the sample photos that come with FER Lens, its heatmap does best in FER "
                   f"Lens's trust check, but none passes it fully. This one is *{TRUST_WORDS[HOME_VERDICT].lower()}*"
                   f": {TRUST_FOR_CLASS[HOME_VERDICT][0].lower()}{TRUST_FOR_CLASS[HOME_VERDICT][1:]}")
    st.page_link("app_pages/photo.py", label="Or upload your own photos", icon=":material/upload:")
    st.page_link("app_pages/webcam.py", label="Or try it live with your webcam", icon=":material/videocam:")
    st.page_link("app_pages/video.py", label="Or follow the faces in a recorded clip", icon=":material/movie:")
    st.page_link("app_pages/robustness.py", label="Or see what throws a model off", icon=":material/science:")
