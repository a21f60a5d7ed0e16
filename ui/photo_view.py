"""How the Photo page shows results: the annotated photo, one card per face (crop, chart, heatmap), the batch
table and the downloads. The analysis itself is `fer_core.report.analyze_photo` and `fer_core.explain`.

Heatmaps appear first; the trust check of each map (a few dozen extra model passes per face) runs after
every card is on screen and fills in its note, so the visitor is never kept waiting for it."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import pandas as pd
import streamlit as st

from fer_core.detection.movements import notable
from fer_core.draw import annotate, draw_meshes
from fer_core.evaluation.uncertainty import uncertainty
from fer_core.explain.attribution import Explanation, check_faithfulness, explain
from fer_core.explain.methods import available_methods
from fer_core.explain.registry import DEFAULT_METHOD, METHODS
from fer_core.explain.render import caption, legend, overlay_on_crop, overlay_on_photo
from fer_core.model.checkpoint import LoadedModel
from fer_core.recognizer import FaceResult, Recognizer
from fer_core.report import PhotoResult, analyze_photo, digest, png_bytes, ranked, result_rows, to_csv, to_json

from .figures import probability_bars
from .session_cache import memo
from .settings import Settings

PHOTO_MAX_MB = 25  # per photo: far above any camera's JPEG; video clips have their own, larger limit
PHOTO_TYPES = ["jpg", "jpeg", "png", "webp", "bmp"]
MAX_FACE_CARDS = 12  # detailed cards per photo; the table and the downloads always hold every face
NO_CONTRAST = "(nothing: show all evidence)"
TRUST_LOOK = {"faithful": ":green[:material/verified:]", "partial": ":orange[:material/warning:]",
              "weak": ":red[:material/error:]"}


# ---- computing, memoised per session ---------------------------------------------------------------------

def analysis(recognizer: Recognizer, name: str, data: bytes, max_bytes: int) -> PhotoResult:
    """`analyze_photo`, reused across reruns for the same bytes, detector and model."""
    key = (digest(data), recognizer.detector.name, recognizer.loaded.name, name)
    return memo("photos", key, lambda: analyze_photo(recognizer, name, data, max_bytes=max_bytes), max_items=12)


@dataclass(frozen=True)
class HeatmapRequest:
    """Which heatmap one face card asked for: enough to compute it, or its trust check, again."""

    result: PhotoResult
    detector: str
    index: int
    method: str
    target: str
    contrast: str | None

    def _key(self) -> tuple:
        return self.result.digest, self.detector, self.index, self.method, self.target, self.contrast

    def compute(self, model: LoadedModel) -> Explanation:
        """The explanation, reused across reruns."""
        crop = self.result.faces[self.index].crop
        return memo("explanations", self._key(),
                    lambda: explain(model, crop, self.method, self.target, contrast=self.contrast), max_items=96)

    def checked(self, model: LoadedModel) -> Explanation:
        """The same explanation with its trust hint, measured on the map already drawn (not computed again)."""
        crop = self.result.faces[self.index].crop
        return memo("checked_explanations", self._key(),
                    lambda: check_faithfulness(model, crop, self.compute(model)), max_items=96)


# ---- pieces of the page -----------------------------------------------------------------------------------

def show_problems(results: Sequence[PhotoResult]) -> None:
    """One friendly message per file that could not be read or has no face; the rest carry on."""
    for r in results:
        if r.error:
            st.error(f"**{r.name}** could not be used: {r.error}", icon=":material/block:")
        elif not r.faces:
            st.warning(f"No face was found in **{r.name}**. Faces should be upright, well lit and not too "
                       "small (at least about 40 pixels across). You could also try the other face finder "
                       "in the sidebar.", icon=":material/search_off:")


def show_batch_table(results: Sequence[PhotoResult]) -> None:
    """Every face of every photo in one table (what the CSV download holds)."""
    table = pd.DataFrame(result_rows(results))
    columns = ["file", "face", "expression", "confidence", "uncertain", "note"]
    st.dataframe(table[columns], hide_index=True, width="stretch", column_config={
        "confidence": st.column_config.ProgressColumn("confidence", format="percent", min_value=0, max_value=1),
        "uncertain": st.column_config.CheckboxColumn("uncertain"),
        "face": st.column_config.NumberColumn("face", format="%d"),
    })


def show_downloads(results: Sequence[PhotoResult], recognizer: Recognizer) -> None:
    """CSV and JSON of all results, built in memory when clicked."""
    rows = result_rows(results)
    st.caption("Save the scores of every face in every photo (made on this computer when you click):")
    c1, c2, _ = st.columns([1, 1, 2])
    c1.download_button("Results as a table (CSV)", lambda: to_csv(rows), "fer-lens-results.csv", "text/csv",
                       on_click="ignore", icon=":material/table:", key="dl-csv", width="stretch")
    c2.download_button("Results as data (JSON)", lambda: to_json(results, model=recognizer.loaded.name,
                                                                   detector=recognizer.detector.name),
                       "fer-lens-results.json", "application/json", on_click="ignore",
                       icon=":material/data_object:", key="dl-json", width="stretch")


def usable_settings(settings: Settings, model: LoadedModel) -> Settings:
    """The settings, with the heatmap method swapped for the default one (and a note) when this model cannot
    do the chosen one (attention maps need a model with attention blocks)."""
    if settings.method.name in available_methods(model.model):
        return settings
    fallback = METHODS[DEFAULT_METHOD]
    st.info(f"{settings.method.title} maps need a model with attention blocks, and "
            f"{model.name} has none, so {fallback.title} is shown instead.", icon=":material/info:")
    return replace(settings, method=fallback)


def show_photo(result: PhotoResult, model: LoadedModel, settings: Settings) -> None:
    """The annotated photo, the whole-photo heatmap, a card for each face, then the trust notes."""
    settings = usable_settings(settings, model)
    if not result.faces:
        st.image(result.rgb, caption=f"{result.name}: no face found", width="stretch")
        return
    stem = result.name.rsplit(".", 1)[0]
    n = len(result.faces)
    left, right = st.columns(2)
    annotated = annotate(result.rgb, result.faces)
    with_mesh = any(f.mesh is not None for f in result.faces)
    if with_mesh and left.toggle("Show the face mesh", key=f"mesh-{result.digest[:12]}",
                                 help="The 468 points FER Lens measures on each face: they level the face for "
                                      "the model and give the facial movements listed on each card."):
        annotated = draw_meshes(annotated, result.faces)
    left.image(annotated, width="stretch",
               caption=f"{n} face{'s' if n > 1 else ''} found. Each box is coloured by the expression the "
                       "model reads most strongly, with its score.")
    left.download_button("Download this annotated photo (PNG)", lambda: png_bytes(annotated),
                         f"{stem}-annotated.png", "image/png", on_click="ignore", icon=":material/download:",
                         key=f"dl-annotated-{result.digest[:12]}")

    if n > MAX_FACE_CARDS:
        st.info(f"Showing details for the first {MAX_FACE_CARDS} of {n} faces; the table and the downloads "
                "include every face.")
    shown = []  # (face, explanation, request, trust note slot)
    for i, face in enumerate(result.faces[:MAX_FACE_CARDS]):
        card = face_card(result, i, face, model, settings)
        if card is not None:
            shown.append((face, *card))

    if shown:
        whole = overlay_on_photo(result.rgb, [(face, expl) for face, expl, _, _ in shown])
        colours = ("red marks what speaks for the chosen expression, blue what speaks for the one it is "
                   "compared with" if any(expl.signed for _, expl, _, _ in shown) else
                   "warm colours mark where the model looked most" if not settings.method.class_specific
                   else "warm colours mark the areas that drove each face's score most")
        right.image(whole, width="stretch",
                    caption=f"Heatmaps ({settings.method.title}) on every face: {colours}. The cards "
                            "below explain them one by one.")
        right.download_button("Download the heatmap photo (PNG)", lambda: png_bytes(whole),
                              f"{stem}-heatmaps.png", "image/png", on_click="ignore",
                              icon=":material/download:", key=f"dl-heat-{result.digest[:12]}")
    for _, _, request, slot in shown:
        fill_trust_note(slot, request, model)


def face_card(result: PhotoResult, i: int, face: FaceResult, model: LoadedModel, settings: Settings):
    """One face: what the model saw, all class scores, and a heatmap for a class of the visitor's choice.
    Returns (explanation, request, empty trust-note slot), or None when the heatmap failed."""
    key = f"{result.digest[:12]}-{settings.detector.name}-{i}"
    why_unsure = uncertainty(face.probs)
    with st.container(border=True):
        badge = " :orange-badge[:material/help: uncertain]" if why_unsure else ""
        st.markdown(f"#### Face {i + 1}: {face.label} ({face.confidence:.0%}){badge}")
        crop_col, chart_col, heat_col = st.columns([1, 2, 1.8])
        crop_col.image(face.crop, width=150, caption="What the model saw: the face, cropped and levelled")
        chart_col.plotly_chart(probability_bars(face.probs, "Score for each expression"),
                               key=f"chart-{key}", config={"displayModeBar": False})
        if why_unsure:
            chart_col.caption(f":material/help: **Uncertain**: {why_unsure}. Read this face with extra care.")
        show_movements(chart_col, face.movements)
        with heat_col:
            return heatmap_panel(result, i, face, model, settings, key)


def show_movements(column, movements: dict[str, float] | None) -> None:
    """The facial movements that stand out on this face, in plain words (measured on its mesh)."""
    if movements is None:
        column.caption(":material/face: No face mesh fitted here, so no facial movements were measured.")
        return
    found = notable(movements)
    said = "; ".join(words for _, _, words in found) if found else "nothing stands out from a typical neutral face"
    column.caption(f":material/face: **Measured on the face:** {said}. (Distances between points of the face's "
                   "mesh, against typical neutral faces; the AU codes name the matching muscle movements of the "
                   "Facial Action Coding System. A movement is not a feeling.)")


def heatmap_panel(result: PhotoResult, i: int, face: FaceResult, model: LoadedModel, settings: Settings,
                  key: str):
    """Class and contrast pickers, the heatmap, its legend and caption, and a slot for its trust note."""
    order = [c for c, _ in ranked(face.probs)]
    if settings.method.class_specific:
        target = st.selectbox("Why this expression?", order, key=f"target-{key}",
                              format_func=lambda c: f"{c} ({face.probs[c]:.0%})")
        others = [NO_CONTRAST] + [c for c in order if c != target]
        contrast = st.selectbox("…rather than", others, key=f"contrast-{key}",
                                help="Pick a second expression to see what speaks for the first one and "
                                     "against the second (red = for, blue = against).")
        contrast = None if contrast == NO_CONTRAST else contrast
    else:  # the model's own attention: one map, whatever the class
        target, contrast = order[0], None
        st.caption("Where the model itself looked: its attention is the same for every expression. Pick "
                   "another heatmap method in the sidebar to ask about one expression.")
    request = HeatmapRequest(result, settings.detector.name, i, settings.method.name, target, contrast)
    try:
        expl = request.compute(model)
    except Exception as exc:  # an explanation failing must not take the whole page down
        st.warning(f"The heatmap could not be computed for this face ({exc}).")
        return None
    a, b = st.columns(2)
    a.image(overlay_on_crop(face.crop, expl), width=150, caption=f"{expl.info.title} heatmap")
    b.image(legend(160, 40, expl.signed, low=contrast or "weak", high=target if contrast else "strong"),
            width=160)
    b.download_button("Heatmap PNG", lambda: png_bytes(overlay_on_crop(face.crop, expl)),
                      f"{result.name.rsplit('.', 1)[0]}-face{i + 1}-{expl.method}.png", "image/png",
                      on_click="ignore", key=f"dl-face-{key}", icon=":material/download:")
    st.markdown(caption(expl, face.movements))
    slot = st.empty()
    slot.caption(":material/hourglass_top: Checking how far to trust this map…")
    return expl, request, slot


def fill_trust_note(slot, request: HeatmapRequest, model: LoadedModel) -> None:
    """Run the fast faithfulness check for one heatmap and put its plain-words verdict in the slot."""
    try:
        checked = request.checked(model)
    except Exception as exc:
        slot.caption(f"The trust check could not run ({exc}).")
        return
    show_trust_note(slot, checked)


def show_trust_note(slot, checked: Explanation) -> None:
    """The plain-words verdict of a heatmap's faithfulness check (Photo, Webcam and Video pages alike)."""
    report = checked.faithfulness
    slot.caption(f"{TRUST_LOOK.get(report.verdict, '')} **How far to trust this map:** {checked.trust_hint}")
