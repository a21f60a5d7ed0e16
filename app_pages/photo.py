"""Photo: upload one or many photos; see every face's expression scores, a heatmap, and download results."""
from __future__ import annotations

import streamlit as st

from fer_core.evaluation.uncertainty import UNCERTAIN_RULE
from fer_core.labels import CLASSES
from fer_core.samples import SAMPLE_NAME, sample_photo_png
from ui import photo_view as view
from ui.figures import expression_key
from ui.resources import get_recognizer
from ui.settings import current
from ui.trust import trust_help

settings = current()
st.title("Photo")
st.write("Upload photos with faces. FER Lens scores each face for 8 facial expressions and shows which parts "
         "of the face the score came from.")

uploads = view.photo_uploader("Photos", "uploads", many=True)
if st.session_state.get("use_sample"):
    if st.button("Remove the sample photo", icon=":material/close:", key="drop-sample"):
        st.session_state["use_sample"] = False
        st.rerun()
elif st.button("Use a sample photo", icon=":material/image:", key="add-sample"):
    st.session_state["use_sample"] = True
    st.rerun()

st.html(expression_key(CLASSES))
st.caption("The colour of each facial expression, on the boxes and in the score bars.")

inputs = [(u.name, u.getvalue()) for u in uploads or []]
if st.session_state.get("use_sample"):
    inputs.append((SAMPLE_NAME, sample_photo_png()))
if not inputs:
    st.info("Choose one or more photos to begin, or use the sample photo.")
    st.stop()

recognizer = get_recognizer(settings.detector.name)
max_bytes = view.PHOTO_MAX_MB * 2**20
with st.spinner("Finding faces…"):
    results = [view.analysis(recognizer, name, data, max_bytes) for name, data in inputs]

view.show_problems(results)
readable = [r for r in results if r.ok]
if not readable:
    st.stop()

if len(results) > 1:
    st.subheader("All photos")
    view.show_batch_table(results)
downloads = st.container()  # filled after the face cards below, so that they appear first

with st.expander("How to read these results", icon=":material/help:"):
    st.markdown(
        "- **Scores** add up to 100% over the 8 expressions. They say how much the face *looks like* the "
        "faces people labelled with each expression; they are not a measure of feelings.\n"
        f"- {UNCERTAIN_RULE} Treat such faces as \"could be either\".\n"
        "- **Heatmaps** colour the parts of the face that drove the chosen score: warm (red/yellow) = strong, "
        "blue = weak. With *…rather than*, red marks what speaks for the first expression and blue what "
        "speaks for the second.\n"
        "- **How far to trust this map** is measured on the spot: FER Lens hides the highlighted parts and "
        "checks that the score really drops. In words for a class:\n"
        f"{trust_help()}\n"
        "- Change the face finder or the heatmap method in the sidebar.")

with_faces = [r for r in readable if r.faces] or readable
if len(with_faces) > 1:
    names = [r.name for r in with_faces]
    chosen = st.selectbox("Look closer at", range(len(with_faces)), format_func=lambda k: names[k],
                          key="closer")
    focus = with_faces[chosen]
else:
    focus = with_faces[0]



def fill_downloads() -> None:
    with downloads:
        if any(r.faces for r in results):
            view.show_downloads(results, recognizer)
        else:  # nothing to save: no empty table or file on offer
            st.caption(":material/search_off: No face found, so there are no results to download.")


st.subheader(focus.name)
view.show_photo(focus, recognizer, settings, before_trust_notes=fill_downloads)
