"""One face's reading as a compact panel, for pages that put two faces side by side (Compare) or reveal one
face (Can you read this face?): the heading with the top expression, what the model saw, its heatmap with
the colour scale and the plain-words caption, the score chart, and the trust note filled in afterwards.

Built from the Photo page's pieces (the score chart, the heatmap caption, the trust note and its check), so
every page reads the same. Maps are memoised under the model's own name as well as the sidebar's, so two
models' maps of one face never mix."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from fer_core.evaluation.uncertainty import uncertainty
from fer_core.explain.attribution import Explanation, check_faithfulness, explain
from fer_core.explain.render import caption, legend, overlay_on_crop
from fer_core.model.checkpoint import LoadedModel
from fer_core.report import ranked

from .classroom import queued
from .figures import score_bars
from .photo_view import show_trust_note
from .session_cache import memo

PICTURE_PX = 150


def heatmap(model: LoadedModel, crop: np.ndarray, method: str, target: str, key: tuple) -> Explanation:
    """The map of `model` for `target` on this crop, reused across reruns (`key` names the crop)."""
    return memo("panel-explanations", (model.name, *key, method, target),
                queued(lambda: explain(model, crop, method, target)), max_items=48)


def checked(model: LoadedModel, crop: np.ndarray, expl: Explanation, key: tuple) -> Explanation:
    """The same map with its trust check, measured on the map already drawn."""
    return memo("panel-checked", (model.name, *key, expl.method, expl.target),
                queued(lambda: check_faithfulness(model, crop, expl), "the trust check"), max_items=48)


@dataclass
class TrustNote:
    """A drawn heatmap whose trust note is still to come (checks run after every panel is on screen)."""

    model: LoadedModel
    crop: np.ndarray
    expl: Explanation
    key: tuple
    slot: object

    def fill(self) -> None:
        try:
            done = checked(self.model, self.crop, self.expl, self.key)
        except Exception as exc:  # a check failing must not take the page down
            self.slot.caption(f"The trust check could not run ({exc}).")
            return
        show_trust_note(self.slot, done)


def fill_all(notes: list[TrustNote | None]) -> None:
    for note in notes:
        if note is not None:
            note.fill()


def face_panel(title: str, crop: np.ndarray, probs: dict[str, float], model: LoadedModel, method: str,
               target: str | None, key: tuple, *, note: str = "", chart_title: str = "Score for each expression",
               heading: bool = True) -> TrustNote | None:
    """Draw one face's panel in the current container; `target` None explains its top expression. Returns
    the pending trust note (None when the heatmap failed)."""
    label, confidence = ranked(probs)[0]
    target = target or label
    why_unsure = uncertainty(probs)
    if heading:
        badge = " :orange-badge[:material/help: uncertain]" if why_unsure else ""
        st.markdown(f"#### {title}: {label} ({confidence:.0%}){badge}")
    seen, heat = st.columns(2)
    seen.image(crop, width=PICTURE_PX, caption="What the model saw",
               alt=f"{title}: the face as the model saw it, cropped and levelled")
    pending = None
    try:
        expl = heatmap(model, crop, method, target, key)
    except Exception as exc:  # a heatmap failing must not take the page down
        heat.warning(f"The heatmap could not be computed ({exc}).")
        expl = None
    else:
        about = f"for {expl.target}" if expl.info.class_specific else "of where the model looked"
        heat.image(overlay_on_crop(crop, expl), width=PICTURE_PX, caption=f"{expl.info.title} heatmap {about}",
                   alt=f"{title}: {expl.info.title} heatmap {about}, warm colours where it mattered most")
        heat.image(legend(PICTURE_PX, 36), width=PICTURE_PX, alt="Colour scale of the heatmap: blue weak, red strong")
    st.html(score_bars(probs, chart_title))
    if why_unsure:
        st.caption(f":material/help: **Uncertain**: {why_unsure}. Read this face with extra care.")
    if expl is not None:
        st.markdown(caption(expl))
        if note:
            st.caption(note)
        slot = st.empty()
        slot.caption(":material/hourglass_top: Checking how far to trust this map…")
        pending = TrustNote(model, crop, expl, key, slot)
    return pending
