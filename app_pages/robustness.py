"""Robustness: change a face the way real photos go wrong (covered eyes, darkness, blur, a tilt, heavy
JPEG) and watch the scores and the heatmap move. The teaching page for "why models fail"."""
from __future__ import annotations

import streamlit as st

from fer_core.evaluation.perturb import PERTURBATIONS
from fer_core.samples import ROBUSTNESS_CHANGE, ROBUSTNESS_FACE, ROBUSTNESS_SAMPLE, sample_png
from ui import photo_view
from ui import robustness_view as view
from ui.resources import get_model, get_recognizer
from ui.settings import current

settings = current()
st.title("Robustness: why models fail")
st.write("A person still reads a smile behind sunglasses or in a dim room. A model may not: it learned from "
         "tens of thousands of photos and only knows what they showed. Pick a face, change it the way real "
         "photos go wrong, and watch the scores and the heatmap move.")

upload = photo_view.photo_uploader("A photo with a face", "robust-upload")
if upload is not None:
    name, data = upload.name, upload.getvalue()
else:
    # The sample, its face and the first change were chosen by measurement (fer_core/samples.py, `fer-lens
    # showcase`): of the packaged samples' faces read with confidence, this change moves the score most.
    st.caption(f"No photo chosen, so this uses a sample photo ({ROBUSTNESS_SAMPLE}), starting with "
               f"*{PERTURBATIONS[ROBUSTNESS_CHANGE].title.lower()}*: of the sample photos that come with FER Lens, "
               "that change moves a confident reading most (measured, not picked by eye).")
    name, data = ROBUSTNESS_SAMPLE, sample_png(ROBUSTNESS_SAMPLE)

model = get_model()
settings = photo_view.usable_settings(settings, model)
recognizer = get_recognizer(settings.detector.name)
max_bytes = photo_view.PHOTO_MAX_MB * 2**20
with st.spinner("Finding faces…"):
    result = photo_view.analysis(recognizer, name, data, max_bytes)
photo_view.show_problems([result])
if not result.ok or not result.faces:
    st.stop()

left, right = st.columns(2)
index = ROBUSTNESS_FACE if upload is None and ROBUSTNESS_FACE < len(result.faces) else 0
if len(result.faces) > 1:
    if st.session_state.get("robust-face", 0) >= len(result.faces):  # a face number from an earlier photo
        st.session_state["robust-face"] = index
    st.session_state.setdefault("robust-face", index)
    index = left.selectbox("Face", range(len(result.faces)), format_func=lambda i: f"Face {i + 1}",
                           key="robust-face", help="Faces are numbered as on the Photo page.")
st.session_state.setdefault("robust-change", ROBUSTNESS_CHANGE)
change = right.selectbox("Change the face", list(PERTURBATIONS), key="robust-change",
                         format_func=lambda k: PERTURBATIONS[k].title)
right.caption(PERTURBATIONS[change].what)

found = view.variants(recognizer, result, index)
view.comparison(model, found, change, settings.method.name, (result.digest, recognizer.detector.name, index))

st.subheader("Every change at once")
view.all_changes_table(model, found, model.card.get("robustness"))
st.caption("The last column, where shown, comes from the model card: the same change applied to 3,545 FER+ "
           "test faces, and how many of them the model still read as people labelled them. One face tells "
           "you little; the test faces tell you how often each change trips the model up.")
with st.expander("Why does this happen?", icon=":material/school:"):
    st.markdown(
        "- **The model only knows its training photos.** Few of them show sunglasses, masks or tilted heads, "
        "so it has not learned to cope with them.\n"
        "- **Covering the mouth or eyes removes evidence.** Smiles live in the mouth and cheeks; surprise "
        "and fear in the eyes and brows. Hide them and the model falls back on what is left, often "
        "*neutral*.\n"
        "- **Blur and heavy JPEG wipe out fine detail** such as wrinkles around the eyes, which the model "
        "relies on more than a person would.\n"
        "- **Compare the heatmaps**: when the answer changes, the heatmap usually shows the model looking "
        "somewhere else. That is how an expert checks whether a model's answer can be trusted.")
