"""How the Compare page puts two readings side by side: two faces under the sidebar's model, or one face under
the sidebar's model and a second built-in one. Each side is a `face_panel` (scores, heatmap, trust note);
between them a table of both sides' scores and, in plain words, what differs (`fer_core.comparison`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import streamlit as st

from fer_core.card import runtime_note
from fer_core.comparison import Difference, points
from fer_core.draw import annotate
from fer_core.labels import CLASSES
from fer_core.model.catalog import INT8_SUFFIX, model_choices, model_info
from fer_core.model.checkpoint import LoadedModel
from fer_core.recognizer import Recognizer
from fer_core.report import PhotoResult, ranked

from . import face_panel
from .session_cache import memo

MODES = {"faces": "Two faces", "models": "Two models"}
EACH_TOP = "__top__"  # the heatmap picker's "each side's own top expression"


@dataclass(frozen=True)
class Side:
    """One side of the comparison: a face's crop and scores under one model."""

    title: str
    crop: np.ndarray
    probs: dict[str, float]
    model: LoadedModel
    method: str
    key: tuple  # names the crop for the memoised maps
    note: str = ""


# ---- choosing what to compare -----------------------------------------------------------------------------

def face_choices(results: Sequence[PhotoResult]) -> list[tuple[PhotoResult, int]]:
    """Every face of every readable photo, in photo order, as (photo, face index)."""
    return [(r, i) for r in results if r.ok for i in range(len(r.faces))]


def face_name(choice: tuple[PhotoResult, int], several_photos: bool) -> str:
    result, i = choice
    return f"{result.name}, face {i + 1}" if several_photos else f"Face {i + 1}"


def show_photos(results: Sequence[PhotoResult], note: str) -> None:
    """The photos small, with their numbered boxes, so the visitor sees which face is which."""
    shown = [r for r in results if r.ok and r.faces]
    if not shown:
        return
    columns = st.columns(min(len(shown), 3))
    for k, r in enumerate(shown):
        n = len(r.faces)
        plural = "s" if n > 1 else ""
        columns[k % len(columns)].image(annotate(r.rgb, r.faces), width=360,
                                        caption=f"{r.name}: {n} face{plural}. {note}",
                                        alt=f"{r.name} with {n} numbered face box{'es' if n > 1 else ''}")


def pick_two_faces(choices: list[tuple[PhotoResult, int]]) -> tuple[tuple[PhotoResult, int], tuple[PhotoResult, int]]:
    """Two pickers, Face A and Face B, defaulting to the first two faces."""
    several = len({r.digest for r, _ in choices}) > 1
    left, right = st.columns(2)
    a = left.selectbox("Face A", range(len(choices)), format_func=lambda k: face_name(choices[k], several),
                       key="compare-face-a")
    b = right.selectbox("Face B", range(len(choices)), index=min(1, len(choices) - 1),
                        format_func=lambda k: face_name(choices[k], several), key="compare-face-b")
    if a == b:
        st.warning("Face A and Face B are the same face: pick another face for one of them.",
                   icon=":material/warning:")
    return choices[a], choices[b]


def second_models(first: str) -> list[str]:
    """The built-in models other than `first`, full-precision ones before int8 copies (an int8 copy of the
    same network mostly agrees with it, so it is the less telling comparison)."""
    others = [m for m in model_choices() if m != first]
    return sorted(others, key=lambda m: m.endswith(INT8_SUFFIX))


def pick_second_model(first: str) -> str | None:
    others = second_models(first)
    if not others:
        st.info("Only one model is installed, so there is no second model to compare with.", icon=":material/info:")
        return None
    return st.selectbox("Second model", others, format_func=lambda m: model_info(m).label, key="compare-model",
                        help="The first model is the one chosen in the sidebar.")


def scores_under(recognizer: Recognizer, crop: np.ndarray, key: tuple) -> dict[str, float]:
    """The second model's scores for the same aligned crop (with the same mirrored pass as the first)."""
    probs = memo("compare-probs", (recognizer.name, *key), lambda: recognizer.classify_crops(crop[None])[0],
                 max_items=32)
    return dict(zip(recognizer.labels, map(float, probs)))


def model_note(model: LoadedModel) -> str:
    """What to know about a side's model: an int8 copy's heatmaps come from its reference model."""
    return (runtime_note(model.card) or "").replace("**", "")


# ---- the comparison --------------------------------------------------------------------------------------

def heatmap_target(class_specific: bool) -> str | None:
    """The picker for what both heatmaps explain: each side's top expression (default) or one for both."""
    if not class_specific:
        st.caption("The heatmaps show where each model itself looked (the same for every expression).")
        return None
    choice = st.selectbox("Heatmaps explain", [EACH_TOP, *CLASSES], key="compare-target",
                          format_func=lambda c: "each side's top expression" if c == EACH_TOP else c,
                          help="Pick one expression to see what speaks for it on both sides.")
    return None if choice == EACH_TOP else choice


def scores_table(left: Side, right: Side) -> None:
    """Both sides' scores per expression in whole percentages (as the panels print them) and the gap in
    points, the left side's highest first."""
    rows = []
    for c, p in ranked(left.probs):
        a, b = points(p), points(right.probs.get(c, 0.0))
        rows.append({"expression": c, left.title: a, right.title: b,
                     "difference (points)": f"{a - b:+d}" if a != b else "0"})
    bar = dict(format="%d%%", min_value=0, max_value=100)
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", column_config={
        left.title: st.column_config.ProgressColumn(left.title, **bar),
        right.title: st.column_config.ProgressColumn(right.title, **bar),
        "difference (points)": st.column_config.TextColumn(
            help=f"{left.title}'s score minus {right.title}'s, in percentage points")})


def show_difference(diff: Difference) -> None:
    icon = ":material/compare_arrows:" if diff.same_answer else ":material/call_split:"
    st.info(diff.text, icon=icon)


def side_by_side(left: Side, right: Side, target: str | None) -> None:
    """The two panels, then their trust notes (each check runs once both maps are on screen)."""
    notes = []
    for column, side in zip(st.columns(2), (left, right)):
        with column, st.container(border=True):
            notes.append(face_panel.face_panel(side.title, side.crop, side.probs, side.model, side.method, target,
                                               side.key, note=side.note))
    face_panel.fill_all(notes)
