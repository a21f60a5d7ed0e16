"""Corrections fitted on held-out (FER2013Valid) logits after training, and folded into the final linear layer
so a saved model needs no extra code at inference:

- a per-class logit offset that lifts the rare classes (disgust, fear, contempt) to a recall floor, as in
  logit adjustment (Menon et al. 2021) but one offset per class, so only the classes that need it pay;
- a temperature that calibrates the probabilities (Guo et al. 2017).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import recall_score


def class_recalls(logits: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Recall of each class under argmax (NaN for a class absent from `labels`)."""
    return recall_score(labels, logits.argmax(axis=1), labels=list(range(n_classes)), average=None,
                        zero_division=np.nan)


def fit_class_offsets(logits: np.ndarray, labels: np.ndarray, min_recall: float = 0.35,
                      step: float = 0.05, max_offset: float = 5.0) -> np.ndarray:
    """Per-class offsets that bring every class present in `labels` to at least `min_recall`.

    Greedy and minimal: the worst class below the floor gets the smallest raise (in `step`s) that lifts it
    to the floor, and this repeats, because raising one class can push another below. A class that cannot
    reach the floor within `max_offset` keeps its largest raise. Classes already above the floor are never
    touched, so a strong model pays no accuracy for it."""
    n = logits.shape[1]
    offset = np.zeros(n)
    grid = np.arange(step, max_offset + step / 2, step)
    for _ in range(4 * n):
        recalls = class_recalls(logits + offset, labels, n)
        below = [c for c in range(n) if not np.isnan(recalls[c]) and recalls[c] < min_recall - 1e-9
                 and offset[c] < max_offset]
        if not below:
            break
        c = min(below, key=lambda k: recalls[k])
        for d in grid:
            trial = offset.copy()
            trial[c] += d
            if class_recalls(logits + trial, labels, n)[c] >= min_recall - 1e-9 or trial[c] >= max_offset:
                offset = trial
                break
    return offset


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Temperature minimising the negative log-likelihood on held-out logits."""
    z, y = torch.from_numpy(logits).float(), torch.from_numpy(labels)
    temps = np.exp(np.linspace(np.log(0.5), np.log(3.0), 60))
    nll = [F.cross_entropy(z / t, y).item() for t in temps]
    return float(temps[int(np.argmin(nll))])


def fold_into_classifier(model: torch.nn.Module, offset: np.ndarray, temperature: float) -> None:
    """logits' = (W x + b + offset) / T, written into the final linear layer."""
    fc = model.get_classifier()
    with torch.no_grad():
        fc.bias.add_(torch.from_numpy(np.asarray(offset)).float())
        fc.weight.div_(temperature)
        fc.bias.div_(temperature)


def unfold_from_classifier(model: torch.nn.Module, post_hoc: dict[str, Any]) -> None:
    """The inverse of `fold_into_classifier`, from a card's `post_hoc` section: the network as trained."""
    if post_hoc.get("logit_adjustment_tau") and "logit_offset" not in post_hoc:
        raise ValueError("the card records a logit adjustment but not the offset itself")
    fc = model.get_classifier()
    temperature = float(post_hoc.get("temperature", 1.0))
    offset = torch.tensor(post_hoc.get("logit_offset", [0.0] * fc.bias.numel())).float()
    with torch.no_grad():
        fc.weight.mul_(temperature)
        fc.bias.mul_(temperature).sub_(offset)
