"""Choosing the "uncertain" rule on FER2013Valid: a face is uncertain when its top score is below
`top_below` or the runner-up is within `margin_below` of it. The pair is the one that flags the fewest
valid faces while the faces left unflagged are read correctly at least `target_accuracy` of the time, so
"not uncertain" carries a measured promise. Test figures are reported beside it, never used to choose."""
from __future__ import annotations

from typing import Any

import numpy as np

TARGET_ACCURACY = 0.9
TOP_GRID = np.round(np.arange(0.30, 0.905, 0.05), 2)
MARGIN_GRID = np.round(np.arange(0.0, 0.505, 0.05), 2)


def flagged(probs: np.ndarray, top_below: float, margin_below: float) -> np.ndarray:
    """Boolean mask of uncertain rows of an (N, C) probability array."""
    top2 = np.sort(probs, axis=1)[:, -2:]
    return (top2[:, 1] < top_below) | (top2[:, 1] - top2[:, 0] < margin_below)


def rule_figures(probs: np.ndarray, labels: np.ndarray, top_below: float, margin_below: float) -> dict[str, float]:
    """Share of faces flagged, and accuracy of the flagged and of the unflagged faces."""
    mask = flagged(probs, top_below, margin_below)
    right = probs.argmax(axis=1) == labels
    return {"flagged_share": float(mask.mean()),
            "accuracy_unflagged": float(right[~mask].mean()) if (~mask).any() else float("nan"),
            "accuracy_flagged": float(right[mask].mean()) if mask.any() else float("nan")}


def fit_rule(probs: np.ndarray, labels: np.ndarray, target_accuracy: float = TARGET_ACCURACY) -> dict[str, Any]:
    """The (top_below, margin_below) pair flagging the fewest faces with unflagged accuracy >= target."""
    best = None
    for top in TOP_GRID:
        for margin in MARGIN_GRID:
            fig = rule_figures(probs, labels, float(top), float(margin))
            if fig["accuracy_unflagged"] >= target_accuracy and (best is None or
                                                                 fig["flagged_share"] < best[2]["flagged_share"]):
                best = (float(top), float(margin), fig)
    if best is None:
        raise ValueError(f"no rule on the grid reaches {target_accuracy:.0%} accuracy on the unflagged faces")
    top, margin, fig = best
    return {"top_below": top, "margin_below": margin, "target_accuracy": target_accuracy, "valid": fig}


def run(model: str | None = None, data: str | None = None, target_accuracy: float = TARGET_ACCURACY,
        cache_dir: str | None = ".cache/data") -> dict[str, Any]:
    """Fit on FER2013Valid, report on FER2013Test, for a checkpoint (flip-averaged, as the app predicts)."""
    from .data import load_dataset
    from .evaluate import predict_logits, softmax
    from .models import load_model
    from .paths import shared_dir

    loaded = load_model(model)
    root = data or str(shared_dir() / "data" / "ferplus")
    split = {s: load_dataset(root, "ferplus", s, loaded.spec.source_size, cache_dir=cache_dir)
             for s in ("valid", "test")}
    probs = {s: softmax(predict_logits(loaded.fast, ds.images, loaded.spec)) for s, ds in split.items()}
    rule = fit_rule(probs["valid"], split["valid"].labels, target_accuracy)
    rule["test"] = rule_figures(probs["test"], split["test"].labels, rule["top_below"], rule["margin_below"])
    rule["chosen_on"] = "FER2013Valid"
    return rule
