"""How the Robustness page shows one face before and after a change: crop, scores and heatmap side by
side, then every change at once in a table. The computing is `fer_core.robustness` and `fer_core.explain`."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from fer_core.evaluation.perturb import PERTURBATIONS
from fer_core.evaluation.uncertainty import uncertainty
from fer_core.explain.attribution import Explanation, explain
from fer_core.explain.render import caption, overlay_on_crop
from fer_core.model.checkpoint import LoadedModel
from fer_core.recognizer import Recognizer
from fer_core.report import PhotoResult, ranked

from .classroom import queued
from .figures import score_bars
from .session_cache import memo


def variants(recognizer: Recognizer, result: PhotoResult, index: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The face under every change, classified in one batch; reused across reruns."""
    from fer_core.evaluation.robustness import face_under_perturbations

    key = (result.digest, recognizer.detector.name, index)
    work = queued(lambda: face_under_perturbations(recognizer.classify_crops, result.faces[index].crop),
                  "the changed faces")
    return memo("robustness", key, work, max_items=8)


def heatmap(model: LoadedModel, crop: np.ndarray, method: str, target: str, key: tuple) -> Explanation:
    return memo("robustness-heatmaps", (*key, method, target), queued(lambda: explain(model, crop, method, target)),
                max_items=24)


COVERED_NOTE = ("The black bar is part of the picture the model saw, so the heatmap can light up on it: that "
                "shows how much the bar itself moved the score, not that the model can see through it.")


def side(column, title: str, crop: np.ndarray, probs: dict[str, float], model: LoadedModel, method: str,
         target: str, key: tuple, note: str = "") -> None:
    """One side of the comparison: the face, its scores, and the heatmap for `target` (with `note` under it)."""
    label, confidence = ranked(probs)[0]
    with column, st.container(border=True):
        st.markdown(f"#### {title}: {label} ({confidence:.0%})")
        a, b = st.columns(2)
        a.image(crop, width=150, caption="What the model saw", alt=f"{title} face, as the model saw it")
        try:
            expl = heatmap(model, crop, method, target, key)
        except Exception as exc:  # a heatmap failing must not take the page down
            b.warning(f"The heatmap could not be computed ({exc}).")
        else:
            b.image(overlay_on_crop(crop, expl), width=150, caption=f"{expl.info.title} heatmap",
                    alt=f"{expl.info.title} heatmap of the {title.lower()} face for {target}")
            st.markdown(caption(expl))
            if note:
                st.caption(note)
        st.html(score_bars(probs, "Score for each expression"))


def comparison(model: LoadedModel, found: dict[str, tuple[np.ndarray, np.ndarray]], change: str, method: str,
               key: tuple) -> None:
    """Original and changed face side by side; both heatmaps explain the original's top expression."""
    labels = model.spec.labels
    original_crop, original_p = found["original"]
    changed_crop, changed_p = found[change]
    original = dict(zip(labels, map(float, original_p)))
    changed = dict(zip(labels, map(float, changed_p)))
    target = ranked(original)[0][0]
    left, right = st.columns(2)
    side(left, "Original", original_crop, original, model, method, target, (*key, "original"))
    side(right, PERTURBATIONS[change].title, changed_crop, changed, model, method, target, (*key, change),
         note=COVERED_NOTE if change.endswith("_occluded") else "")
    before, after = original[target], changed[target]
    new_label = ranked(changed)[0][0]
    verdict = (f"The answer changed from **{target}** to **{new_label}**." if new_label != target else
               f"The answer stayed **{target}**.")
    unsure = (" FER Lens would now mark this face *uncertain*." if uncertainty(changed) and not uncertainty(original)
              else "")
    st.info(f"{verdict} The score for {target} went from {before:.0%} to {after:.0%}.{unsure} Both heatmaps "
            f"explain *{target}*, so you can see which parts of the face the model lost or found.",
            icon=":material/compare_arrows:")


def all_changes_table(model: LoadedModel, found: dict[str, tuple[np.ndarray, np.ndarray]],
                      card_report: dict | None) -> None:
    """Every change at once: what the model says, and (from the model card) how much that change costs on
    the test faces."""
    labels = model.spec.labels
    original = dict(zip(labels, map(float, found["original"][1])))
    top = ranked(original)[0][0]
    rows = []
    for name, (_, p) in found.items():
        probs = dict(zip(labels, map(float, p)))
        label, conf = ranked(probs)[0]
        test = (card_report or {}).get("perturbations", {}).get(name)
        rows.append({"change": "None (original)" if name == "original" else PERTURBATIONS[name].title,
                     "model says": label, "score": conf, f"score for {top}": probs[top],
                     "same answer": label == top,
                     "test faces read correctly": test["accuracy"] if test else
                     (card_report or {}).get("clean", {}).get("accuracy") if name == "original" else None})
    table = pd.DataFrame(rows)
    if not card_report:
        table = table.drop(columns=["test faces read correctly"])
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        "score": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1),
        f"score for {top}": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1),
        "same answer": st.column_config.CheckboxColumn(),
        "test faces read correctly": st.column_config.NumberColumn(
            format="percent", help="On the FER+ test faces with the same change (from the model card)")})
