"""How the Photo page shows results: the annotated photo, one card per face (crop, chart, heatmap), the batch
table and the downloads. The analysis itself is `fer_core.report.analyze_photo` and `fer_core.explain`.

Heatmaps appear first; the trust check of each map (a few dozen extra model passes per face) runs after
every card is on screen and fills in its note, so the visitor is never kept waiting for it."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Sequence

import cv2
import numpy as np
import streamlit as st

from fer_core import imageio
from fer_core.detection.movements import notable
from fer_core.draw import annotate, draw_meshes
from fer_core.evaluation.uncertainty import uncertainty
from fer_core.explain.registry import DEFAULT_METHOD, METHODS, available_methods_for_card
from fer_core.explain.render import caption, legend, overlay_on_crop, overlay_on_photo
from fer_core.recognizer import FaceResult, Recognizer
from fer_core.report import PhotoResult, analyze_photo, digest, png_bytes, ranked, result_rows, to_csv, to_json

from .classroom import heavy_turn, queued
from .figures import score_bars
from .session_cache import memo, memo_many
from .settings import Settings
from .trust import TRUST_FOR_CLASS, TRUST_LOOK

if TYPE_CHECKING:
    from fer_core.explain.attribution import Explanation
    from fer_core.model.checkpoint import LoadedModel


PHOTO_MAX_MB = 25  # per photo: far above any camera's JPEG; video clips have their own, larger limit
PHOTO_TYPES = list(imageio.PHOTO_TYPES)  # the photo uploaders' `type=`...
PHOTO_FORMATS = imageio.PHOTO_FORMATS  # ...and the same in words, for their labels and messages


def photo_uploader(what: str, key: str, many: bool = False, container=st):
    """A photo uploader with the app's formats and size limit in its label (one place for both)."""
    each = " each" if many else ""
    return container.file_uploader(f"{what} ({PHOTO_FORMATS}, up to {PHOTO_MAX_MB} MB{each})", type=PHOTO_TYPES,
                                   accept_multiple_files=many, key=key, max_upload_size=PHOTO_MAX_MB)
MAX_FACE_CARDS = 12  # detailed cards per photo; the table and the downloads always hold every face
NO_CONTRAST = "(nothing: show all evidence)"
ANNOTATED_DISPLAY_PX = 420  # about how wide the annotated photo is shown (half the page on a 1280 px screen)
HEATMAP_PX = 160  # the heatmap on each face card, with its colour scale under it


# ---- computing, memoised per session ---------------------------------------------------------------------

def analysis(recognizer: Recognizer, name: str, data: bytes, max_bytes: int) -> PhotoResult:
    """`analyze_photo`, reused across reruns for the same bytes, detector and model."""
    key = (digest(data), recognizer.detector.name, recognizer.name, name)
    find = queued(lambda: analyze_photo(recognizer, name, data, max_bytes=max_bytes), "finding the faces")
    return memo("photos", key, find, max_items=12)


def _attribution():
    """fer_core.explain.attribution, imported when the first heatmap is made: with Captum it takes ~0.5 s on
    2 cores, which a cold server's first face card should not wait for."""
    from fer_core.explain import attribution

    return attribution


def _checking_model(model: LoadedModel) -> LoadedModel:
    """The model the trust checks run on: its graph twin on one thread. The checks come after the heatmaps, and
    a browser on the same computer is drawing those meanwhile: with the checks on both cores, the 6-face photo's
    heatmaps showed a median 0.2 s later (1.53 against 1.31 s, `tests/app/test_browser.py -k timed`, 10 runs
    each, interleaved, 2026-12-02). The torch copy has no per-call thread setting and is used as it is."""
    from fer_core.model.graph_twin import TensorGraphClassifier

    return replace(model, fast=model.fast.with_threads(1)) if isinstance(model.fast, TensorGraphClassifier) else model


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
                    queued(lambda: _attribution().explain(model, crop, self.method, self.target,
                                                          contrast=self.contrast)),
                    max_items=96)

    @staticmethod
    def compute_many(requests: list["HeatmapRequest"], model: LoadedModel) -> list[Explanation]:
        """Several faces' explanations, those not held yet computed together (occlusion: shared batches)."""
        def missing(positions: list[int]) -> list[Explanation]:
            with heavy_turn():
                return _explain_missing([requests[i] for i in positions], model)

        return memo_many("explanations", [r._key() for r in requests], missing, max_items=96)

    @staticmethod
    def checked_many(requests: list["HeatmapRequest"], model: LoadedModel) -> list[Explanation]:
        """Several faces' trust checks, their deletion and insertion passes in shared batches."""
        def missing(positions: list[int]) -> list[Explanation]:
            picked = [requests[i] for i in positions]
            crops = np.stack([r.result.faces[r.index].crop for r in picked])
            with heavy_turn("the trust checks"):
                return _attribution().check_faithfulness_many(_checking_model(model), crops,
                                                              HeatmapRequest.compute_many(picked, model))

        return memo_many("checked_explanations", [r._key() for r in requests], missing, max_items=96)

    def checked(self, model: LoadedModel) -> Explanation:
        """The same explanation with its trust hint, measured on the map already drawn (not computed again)."""
        crop = self.result.faces[self.index].crop
        return memo("checked_explanations", self._key(),
                    queued(lambda: _attribution().check_faithfulness(_checking_model(model), crop,
                                                                     self.compute(model)),
                           "the trust check"),
                    max_items=96)


def _explain_missing(picked: list[HeatmapRequest], model: LoadedModel) -> list[Explanation]:
    """The explanations `compute_many` does not hold yet: one shared batch when the faces ask the same way."""
    crops = np.stack([r.result.faces[r.index].crop for r in picked])
    if len({r.method for r in picked}) == 1 and all(r.contrast is None for r in picked):
        return _attribution().explain_crops(model, crops, picked[0].method, [r.target for r in picked])
    return [_attribution().explain(model, c, r.method, r.target, contrast=r.contrast) for c, r in zip(crops, picked)]


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
    import pandas as pd  # here: ~0.2 s to import, which a single photo's first face card need not wait for

    table = pd.DataFrame(result_rows(results))
    none = table["expression"].isna()  # a file without a face, or that could not be read: say so in words
    table["expression"] = table["expression"].astype(object)
    table.loc[none, "expression"] = ["no face found" if n == "no face found" else "could not be used"
                                     for n in table.loc[none, "note"]]
    columns = ["file", "face", "expression", "confidence", "uncertain", "note"]
    st.dataframe(table[columns], hide_index=True, width="stretch", column_config={
        "confidence": st.column_config.ProgressColumn("confidence", format="percent", min_value=0, max_value=1),
        "uncertain": st.column_config.CheckboxColumn("uncertain"),
        "face": st.column_config.NumberColumn("face", format="%d"),
    })


def show_downloads(results: Sequence[PhotoResult], recognizer: Recognizer) -> None:
    """CSV and JSON of all results, and a printable report of one photo, built in memory when clicked."""
    from .report_download import report_download  # it builds on this module

    rows = result_rows(results)
    st.caption("Save the scores of every face in every photo, or a printable report of a photo (made on this "
               "computer when you click):")
    c1, c2, c3 = st.columns([1, 1, 1.2])
    with c3:
        report_download(results, recognizer)
    c1.download_button("Results as a table (CSV)", lambda: to_csv(rows), "fer-lens-results.csv", "text/csv",
                       on_click="ignore", icon=":material/table:", key="dl-csv", width="stretch")
    c2.download_button("Results as data (JSON)", lambda: to_json(results, model=recognizer.name,
                                                                   detector=recognizer.detector.name),
                       "fer-lens-results.json", "application/json", on_click="ignore",
                       icon=":material/data_object:", key="dl-json", width="stretch")


def usable_settings(settings: Settings, model: LoadedModel | Recognizer) -> Settings:
    """The settings, with the heatmap method swapped for the default one (and a note) when this model cannot
    do the chosen one (attention maps need a model with attention blocks). Read from the model's card, so it
    needs no torch."""
    if settings.method.name in available_methods_for_card(model.card):
        return settings
    fallback = METHODS[DEFAULT_METHOD]
    st.info(f"{settings.method.title} maps need a model with attention blocks, and "
            f"{model.name} has none, so {fallback.title} is shown instead.", icon=":material/info:")
    return replace(settings, method=fallback)


def show_photo(result: PhotoResult, recognizer: Recognizer, settings: Settings,
               before_trust_notes: Callable[[], None] = lambda: None) -> None:
    """The annotated photo, the whole-photo heatmap, a card for each face, then the trust notes (the slowest
    part). `before_trust_notes` runs once the cards are on screen: the page draws its downloads there. The
    cards' labels need no torch; the heatmaps then wait for the torch model if it is still loading."""
    settings = usable_settings(settings, recognizer)
    if not result.faces:
        st.image(result.rgb, caption=f"{result.name}: no face found", width="stretch",
                 alt=f"The photo {result.name}, in which no face was found")
        before_trust_notes()
        return
    stem = result.name.rsplit(".", 1)[0]
    n = len(result.faces)
    left, right = st.columns(2)
    annotated = annotate(result.rgb, result.faces, display_width=ANNOTATED_DISPLAY_PX)
    with_mesh = any(f.mesh is not None for f in result.faces)
    picture = left.empty()  # the photo first, level with the heatmap photo; the mesh switch under it
    if with_mesh and left.toggle("Show the face mesh", key=f"mesh-{result.digest[:12]}",
                                 help="The 468 points FER Lens measures on each face: they level the face for "
                                      "the model and give the facial movements listed on each card."):
        annotated = draw_meshes(annotated, result.faces)
    picture.image(annotated, width="stretch",
                  caption=f"{n} face{'s' if n > 1 else ''} found, numbered from left to right and top to bottom. "
                          "Each box is coloured by the expression the model reads most strongly, with its score.",
                  alt=f"{result.name} with a numbered box on each of its {n} face{'s' if n > 1 else ''}: "
                      + "; ".join(f"face {k}, {f.label} {f.confidence:.0%}" for k, f in enumerate(result.faces, 1)))
    left.download_button("Download this annotated photo (PNG)", lambda: png_bytes(annotated),
                         f"{stem}-annotated.png", "image/png", on_click="ignore", icon=":material/download:",
                         key=f"dl-annotated-{result.digest[:12]}")

    if n > MAX_FACE_CARDS:
        st.info(f"Showing details for the first {MAX_FACE_CARDS} of {n} faces; the table and the downloads "
                "include every face.")
    carded = result.faces[:MAX_FACE_CARDS]
    if recognizer.torch_loaded:  # the photo's labels are on its boxes already; see `first_heatmaps`
        prefetch_heatmaps(first_heatmaps(result, carded, settings), recognizer.loaded)
    # Every card (scores, and the heatmap where it is ready), then the heatmaps still missing in one shared
    # batch (those a visitor asked for in a card, or all of them while torch was still loading), each put in its
    # card's place.
    pending = [face_card(result, i, face, settings) for i, face in enumerate(carded)]
    model = recognizer.loaded  # the torch model, for the heatmaps (loaded by the warm-up, or now)
    prefetch_heatmaps([p.request for p in pending], model)
    shown = []  # (face, explanation, request, trust note slot)
    for face, panel in zip(result.faces, pending):
        drawn = panel.fill(model)
        if drawn is not None:
            shown.append((face, *drawn))

    if shown:
        whole = overlay_on_photo(result.rgb, [(face, expl) for face, expl, _, _ in shown])
        colours = ("red marks what speaks for the chosen expression, blue what speaks for the one it is "
                   "compared with" if any(expl.signed for _, expl, _, _ in shown) else
                   "warm colours mark where the model looked most" if not settings.method.class_specific
                   else "warm colours mark the areas that drove each face's score most")
        right.image(whole, width="stretch",
                    caption=f"Heatmaps ({settings.method.title}) on every face: {colours}. The cards "
                            "below explain them one by one.",
                    alt=f"{result.name} with {settings.method.title} heatmaps over its faces")
        right.download_button("Download the heatmap photo (PNG)", lambda: png_bytes(whole),
                              f"{stem}-heatmaps.png", "image/png", on_click="ignore",
                              icon=":material/download:", key=f"dl-heat-{result.digest[:12]}")
    before_trust_notes()
    fill_trust_notes([(request, slot) for _, _, request, slot in shown], model)


def first_heatmaps(result: PhotoResult, faces: Sequence[FaceResult], settings: Settings) -> list[HeatmapRequest]:
    """The heatmap each face card asks for until a visitor picks another: its top expression, no contrast.

    Computed before the cards are drawn, while the browser has only the labelled photo to draw: the heatmaps of a
    group photo are model passes on both cores, and with the browser drawing a dozen score charts and pickers beside
    them they took twice as long. The 6-face photo's heatmaps then showed 1.01-1.55 s after the upload (median 1.07,
    5 runs) instead of 1.07-1.55 s (median 1.42, 5 runs interleaved), and its cards about 0.3 s later
    (`tests/app/test_browser.py -k timed`, 2026-12-02). Only while torch is loading do the cards come first, so that
    no label waits for it."""
    return [HeatmapRequest(result, settings.detector.name, i, settings.method.name, ranked(face.probs)[0][0], None)
            for i, face in enumerate(faces)]


def prefetch_heatmaps(requests: list[HeatmapRequest], model: LoadedModel) -> None:
    """The heatmaps the cards asked for, computed together in shared batches: each card then finds its own
    ready. A failure here is left to each card to report."""
    if len(requests) < 2:
        return
    try:
        HeatmapRequest.compute_many(requests, model)
    except Exception:  # noqa: BLE001 - the cards compute one by one and say what went wrong
        pass


def face_card(result: PhotoResult, i: int, face: FaceResult, settings: Settings) -> "PendingHeatmap":
    """One face: what the model saw, all class scores, and the pickers of a heatmap for a class of the
    visitor's choice, whose place is filled by the returned `PendingHeatmap`."""
    key = f"{result.digest[:12]}-{settings.detector.name}-{i}"
    why_unsure = uncertainty(face.probs)
    with st.container(border=True):
        badge = " :orange-badge[:material/help: uncertain]" if why_unsure else ""
        st.markdown(f"#### Face {i + 1}: {face.label} ({face.confidence:.0%}){badge}")
        crop_col, chart_col, heat_col = st.columns([1, 2, 1.8])
        crop_col.image(face.crop, width=150, caption="What the model saw: the face, cropped and levelled",
                       alt=f"Face {i + 1}, cropped and levelled as the model saw it")
        chart_col.html(score_bars(face.probs, "Score for each expression"))
        if why_unsure:
            chart_col.caption(f":material/help: **Uncertain**: {why_unsure}. Read this face with extra care.")
        show_movements(chart_col, face.movements)
        with heat_col:
            return heatmap_panel(result, i, face, settings, key)


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


@dataclass
class PendingHeatmap:
    """A card's heatmap: asked for by its pickers, drawn in its places once computed."""

    request: HeatmapRequest
    face: FaceResult
    key: str
    picture: Any  # Streamlit containers, in the card's heatmap column
    words: Any

    def fill(self, model: LoadedModel):
        """Draw the map, its caption and download. Returns (explanation, request, empty trust-note slot), or
        None when the heatmap failed (said in its place)."""
        request, face, target, contrast = self.request, self.face, self.request.target, self.request.contrast
        with self.words:
            try:
                expl = request.compute(model)
            except Exception as exc:  # an explanation failing must not take the whole page down
                st.warning(f"The heatmap could not be computed for this face ({exc}).")
                return None
            low, high = contrast or "weak", target if contrast else "strong"
            self.picture.image(
                with_scale(overlay_on_crop(face.crop, expl), expl.signed, low, high), width=HEATMAP_PX,
                caption=f"{expl.info.title} heatmap",
                alt=f"{expl.info.title} heatmap of face {request.index + 1} for {target}"
                    + (f" rather than {contrast}" if contrast else "") + f", coloured from {low} to {high}")
            st.markdown(caption(expl, face.movements))
            st.download_button("Heatmap PNG", lambda: png_bytes(overlay_on_crop(face.crop, expl)),
                               f"{request.result.name.rsplit('.', 1)[0]}-face{request.index + 1}-{expl.method}.png",
                               "image/png", on_click="ignore", key=f"dl-face-{self.key}", icon=":material/download:")
            slot = st.empty()
            slot.caption(":material/hourglass_top: Checking how far to trust this map…")
        return expl, request, slot


def heatmap_panel(result: PhotoResult, i: int, face: FaceResult, settings: Settings, key: str) -> PendingHeatmap:
    """Class and contrast pickers, with places for the heatmap (above them) and its words (below)."""
    order = [c for c, _ in ranked(face.probs)]
    picture = st.empty()  # filled once the pickers below have said which map to draw
    picture.caption(":material/hourglass_top: Drawing the heatmap…")
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
    return PendingHeatmap(request, face, key, picture, st.container())


def with_scale(heat: np.ndarray, signed: bool, low: str, high: str, width: int = HEATMAP_PX) -> np.ndarray:
    """The heatmap at `width` pixels with its labelled colour scale under it, as one picture: a scale beside
    it would not fit a narrow card, and one picture has one full-screen button, over nothing else."""
    size = (width, int(round(heat.shape[0] * width / heat.shape[1])))
    heat = cv2.resize(heat, size, interpolation=cv2.INTER_LINEAR)
    gap = np.full((4, width, 3), 255, np.uint8)
    return np.vstack([heat, gap, legend(width, 40, signed, low=low, high=high)])


def fill_trust_notes(pairs: list[tuple[HeatmapRequest, object]], model: LoadedModel) -> None:
    """Every card's trust note, the checks run together in shared batches (one by one if that fails)."""
    if len(pairs) > 1:
        try:
            checked = HeatmapRequest.checked_many([r for r, _ in pairs], model)
        except Exception:  # noqa: BLE001 - fall back to one check per card, each with its own message
            checked = None
        if checked is not None:
            for (_, slot), expl in zip(pairs, checked):
                show_trust_note(slot, expl)
            return
    for request, slot in pairs:
        fill_trust_note(slot, request, model)


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
    said = TRUST_FOR_CLASS.get(report.verdict)
    slot.caption(f"{TRUST_LOOK.get(report.verdict, '')} **How far to trust this map:** {checked.trust_hint}"
                 + (f"\n\n:material/school: **To say to a class:** {said}" if said else ""))
