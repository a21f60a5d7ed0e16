"""Compare: two faces side by side, or one face under two models: scores, heatmaps and trust notes, and what
differs in plain words."""
from __future__ import annotations

import streamlit as st

from fer_core.comparison import compare_faces, compare_models
from fer_core.samples import SAMPLE_NAME, sample_photo_png
from ui import compare_view as view
from ui import photo_view
from ui.resources import get_model, get_recognizer
from ui.settings import current

settings = current()
st.title("Compare")
st.write("Put two faces side by side, or read one face with two different models. You see both sets of scores, "
         "both heatmaps and how far to trust each map, and what differs, in plain words.")

mode = st.radio("What to compare", list(view.MODES), format_func=view.MODES.get, horizontal=True, key="compare-mode",
                captions=["two faces, the model chosen in the sidebar", "one face, the sidebar's model and another"])

model = get_model()
recognizer = get_recognizer(settings.detector.name)
detector = settings.detector.name
max_bytes = photo_view.PHOTO_MAX_MB * 2**20

if mode == "faces":
    uploads = photo_view.photo_uploader("One photo with two or more faces, or two photos", "compare-uploads",
                                        many=True)
    if not uploads:
        st.info("Upload one photo with two or more faces (a group photo, say), or two photos with a face each.",
                icon=":material/upload:")
        st.stop()
    with st.spinner("Finding faces…"):
        results = [photo_view.analysis(recognizer, u.name, u.getvalue(), max_bytes) for u in uploads]
    photo_view.show_problems(results)
    choices = view.face_choices(results)
    if len(choices) < 2:
        if choices:
            st.warning("Only one face was found. Add a second photo, or use a photo with two or more faces.",
                       icon=":material/person:")
        st.stop()
    view.show_photos(results, "The numbers match the face pickers below.")
    (ra, ia), (rb, ib) = view.pick_two_faces(choices)
    settings = photo_view.usable_settings(settings, model)
    target = view.heatmap_target(settings.method.class_specific)
    method = settings.method.name
    left = view.Side("Face A", ra.faces[ia].crop, ra.faces[ia].probs, model, method, (ra.digest, detector, ia))
    right = view.Side("Face B", rb.faces[ib].crop, rb.faces[ib].probs, model, method, (rb.digest, detector, ib))
    difference = compare_faces(left.probs, right.probs, left.title, right.title)
else:
    upload = photo_view.photo_uploader("A photo with a face", "compare-upload")
    if upload is not None:
        name, data = upload.name, upload.getvalue()
    else:
        st.caption(f"No photo chosen, so this uses the sample photo ({SAMPLE_NAME}).")
        name, data = SAMPLE_NAME, sample_photo_png()
    with st.spinner("Finding faces…"):
        result = photo_view.analysis(recognizer, name, data, max_bytes)
    photo_view.show_problems([result])
    if not result.ok or not result.faces:
        st.stop()
    second = view.pick_second_model(settings.model)
    if second is None:
        st.stop()
    index = 0
    if len(result.faces) > 1:
        view.show_photos([result], "Boxes carry the sidebar model's reading.")
        index = st.selectbox("Face", range(len(result.faces)), format_func=lambda i: f"Face {i + 1}",
                             key="compare-face")
    other = get_recognizer(detector, second)
    face, key = result.faces[index], (result.digest, detector, index)
    settings_a = photo_view.usable_settings(settings, model)
    settings_b = photo_view.usable_settings(settings, other.loaded)
    target = view.heatmap_target(settings_a.method.class_specific and settings_b.method.class_specific)
    left = view.Side(model.name, face.crop, face.probs, model, settings_a.method.name, key, view.model_note(model))
    right = view.Side(other.loaded.name, face.crop, view.scores_under(other, face.crop, key), other.loaded,
                      settings_b.method.name, key, view.model_note(other.loaded))
    difference = compare_models(left.probs, right.probs, left.title, right.title)

st.subheader("What differs")
view.show_difference(difference)
view.scores_table(left, right)
view.side_by_side(left, right, target)

with st.expander("How to read a comparison", icon=":material/help:"):
    st.markdown(
        "- **Points** are the gap between two percentages: 88% and 66% are 22 points apart.\n"
        "- **Two models can disagree about the same face.** Each learned from the same FER+ photos in its own "
        "way; neither score is the truth. A big gap means the face is hard to read, for models and often for "
        "people too.\n"
        "- **Two faces**: the scores say which facial expression each face resembles, not what the two people "
        "feel. A smile can be polite; a frown can mean concentration.\n"
        "- **Heatmaps** show which parts of each face drove its score; the trust note says whether hiding "
        "those parts really changes the score. Pick one expression under *Heatmaps explain* to see what speaks "
        "for it on both sides.")
