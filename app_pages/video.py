"""Video clip: upload a recorded clip; follow each face's facial expressions over time, look at any moment
with heatmaps, and download the timeline."""
from __future__ import annotations

import streamlit as st

from fer_core.video.analysis import VideoError
from ui import video_view as view
from ui.resources import get_model, get_recognizer
from ui.settings import current
from ui.trust import trust_help
from ui.video_view import FORMATS, MAX_MB, RATES, TYPES

settings = current()
st.title("Video clip")
st.write("Upload a recorded clip. FER Lens follows every face through it and shows how its visible facial "
         "expression changes over time, the moments worth a closer look, and which parts of the face each "
         "reading came from.")
view.show_notice()

upload_col, rate_col = st.columns([3, 1.2])
upload = upload_col.file_uploader(f"Clip ({FORMATS}, up to {MAX_MB} MB)", type=TYPES, key="video_upload",
                                  max_upload_size=MAX_MB)
fps = rate_col.selectbox("Frames analysed", list(RATES), index=2, format_func=RATES.get, key="video_fps",
                         help="How many frames of each second of video are looked at. More is finer but slower.")
st.caption("🔒 The clip is analysed in memory on this computer and never saved; close the tab to forget it.")
if upload is None:
    st.info("Choose a clip to begin. Faces should be upright, well lit and at least about 40 pixels across.")
    st.stop()

clip = view.Clip.from_upload(upload)
model = get_model()
recognizer = get_recognizer(settings.detector.name)
try:
    result = view.analysis(recognizer, clip, fps)
except VideoError as exc:
    st.error(f"**{upload.name}** could not be analysed: {exc}", icon=":material/block:")
    st.stop()

view.show_overview(result, upload.name)
if not result.tracks:
    st.stop()

st.subheader("Look at a moment")
chosen_t = view.show_moment_viewer(result, clip, model, settings)

st.subheader("Each face over time")
tracks = result.tracks
if len(tracks) == 1:
    st.markdown(f"#### Face {tracks[0]}")
    view.show_face(result, tracks[0], clip, chosen_t)
else:
    for tab, track in zip(st.tabs([f"Face {t}" for t in tracks]), tracks):
        with tab:
            view.show_face(result, track, clip, chosen_t)

st.subheader("Save or share")
view.show_downloads(result, clip)

with st.expander("How to read these results", icon=":material/help:"):
    st.markdown(
        "- **Faces** are numbered in the order they first appear. They are not recognised: a face that leaves "
        "the picture for more than a second comes back with a new number.\n"
        "- **Scores** add up to 100% over the 8 expressions and are smoothed over a fraction of a second, so a "
        "blink does not count as a change. They describe how a face *looks*, not what anyone feels.\n"
        "- **In view** and **head turned towards the camera** are observations of the picture, not measures "
        "of attention: people listen with their heads down, too.\n"
        "- **Heatmaps** colour the parts of the face that drove the reading (change the method in the sidebar). "
        "**How far to trust this map** is measured on the spot, as on the Photo page: FER Lens hides the "
        "highlighted parts and checks that the score really drops. In words for a class:\n"
        f"{trust_help()}")
