"""The Photo page's "Printable report (HTML)" download: one photo's report (`fer_core.photo_report`), built
in memory when clicked from the heatmaps and trust checks the page's face cards computed.

The report is built by a deferred download, which runs outside the script and cannot read Session State, so
everything it needs (the photo, the heatmap each card asked for, this session's stores of computed maps) is
gathered during the run; the maps themselves are looked up at click time, when the cards have filled them
in, and computed then only for a card that had not got that far."""
from __future__ import annotations

from typing import Sequence

import streamlit as st

from fer_core.explain.attribution import Explanation, check_faithfulness, explain
from fer_core.explain.registry import DEFAULT_METHOD, METHODS, available_methods
from fer_core.model.checkpoint import LoadedModel
from fer_core.photo_report import photo_report_html
from fer_core.recognizer import Recognizer
from fer_core.report import PhotoResult, ranked

from . import photo_view
from .session_cache import bucket_store, stored_key
from .settings import current


def _requests(result: PhotoResult, model: LoadedModel) -> list[photo_view.HeatmapRequest]:
    """The heatmap each face card of `result` shows now (its pickers' current values, or their defaults)."""
    settings = current()
    method, detector = settings.method, settings.detector.name
    name = method.name if method.name in available_methods(model.model) else DEFAULT_METHOD
    out = []
    for i, face in enumerate(result.faces[: photo_view.MAX_FACE_CARDS]):
        key = f"{result.digest[:12]}-{detector}-{i}"  # the card's widget keys (photo_view.face_card)
        top = ranked(face.probs)[0][0]
        target, contrast = top, None
        if METHODS[name].class_specific:
            target = st.session_state.get(f"target-{key}", top)
            target = target if target in face.probs else top
            contrast = st.session_state.get(f"contrast-{key}")
            contrast = contrast if contrast in face.probs and contrast != target else None
        out.append(photo_view.HeatmapRequest(result, detector, i, name, target, contrast))
    return out


def report_builder(result: PhotoResult, recognizer: Recognizer, blur: bool):
    """A no-argument callable that returns the report's bytes, safe to run outside the script."""
    model, detector = recognizer.loaded, recognizer.detector.name
    requests = _requests(result, model)
    keys = [stored_key(r._key()) for r in requests]  # the keys the cards' maps are memoised under
    plain, checked = bucket_store("explanations"), bucket_store("checked_explanations")

    def heatmap(request: photo_view.HeatmapRequest, key: tuple) -> Explanation | None:
        crop = result.faces[request.index].crop
        try:
            if (found := checked.get(key)) is not None:
                return found
            expl = plain.get(key) or explain(model, crop, request.method, request.target, contrast=request.contrast)
            return check_faithfulness(model, crop, expl)
        except Exception:  # a missing map leaves its face without a heatmap, never the report undone
            return None

    def build() -> bytes:
        expls = [heatmap(r, k) for r, k in zip(requests, keys)]
        return photo_report_html(result.rgb, result.faces, expls, model.card, blur=blur, name=result.name,
                                 detector=detector)

    return build


def report_download(results: Sequence[PhotoResult], recognizer: Recognizer) -> None:
    """The report's button and its "Blur faces in the report" box (ticked by default), with a picker of the
    photo when several have faces."""
    usable = [r for r in results if r.ok and r.faces]
    if not usable:
        return
    result = usable[0]
    if len(usable) > 1:
        focused = st.session_state.get("closer", 0)
        index = st.selectbox("Report of", range(len(usable)), format_func=lambda k: usable[k].name,
                             index=focused if isinstance(focused, int) and focused < len(usable) else 0,
                             key="report-photo")
        result = usable[index]
    blur = st.checkbox("Blur faces in the report", value=True, key="report-blur",
                       help="Pixelates every face the face finder found, on the photo and under each heatmap, so "
                            "the report can be shared. Untick it only with the consent of the people in the photo.")
    stem = result.name.rsplit(".", 1)[0]
    st.download_button("Printable report (HTML)", report_builder(result, recognizer, blur),
                       f"{stem}-report{'-blurred' if blur else ''}.html", "text/html", on_click="ignore",
                       icon=":material/print:", key="dl-report", width="stretch",
                       help="One page to open in a browser and print: the photo, each face's scores, heatmap "
                            "and trust note, and what the numbers are not.")
