"""Metrics under the project protocol: accuracy, macro-F1, per-class recall, confusion matrix, ECE."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score

from fer_core.labels import CLASSES
from fer_core.model.preprocess import prepare_batch, softmax
from fer_core.model.spec import ModelSpec


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """Top-label ECE with equal-width confidence bins (Guo et al. 2017)."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (conf > lo) & (conf <= hi)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - conf[in_bin].mean())
    return float(ece)


def reliability_bins(probs: np.ndarray, labels: np.ndarray, n_bins: int = 10) -> list[dict[str, float]]:
    """Per-bin mean confidence, accuracy and count, for a reliability diagram."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (conf > lo) & (conf <= hi)
        if in_bin.any():
            out.append({"lo": float(lo), "hi": float(hi), "confidence": float(conf[in_bin].mean()),
                        "accuracy": float(correct[in_bin].mean()), "count": int(in_bin.sum())})
    return out


def compute_metrics(probs: np.ndarray, labels: np.ndarray, classes: tuple[str, ...] = CLASSES) -> dict[str, Any]:
    """All protocol metrics for (N, C) probabilities against integer labels.

    When some classes never occur in `labels` (a folder set without contempt, say), also report
    `accuracy_present_classes`: accuracy with the argmax limited to the classes present.
    """
    pred = probs.argmax(axis=1)
    all_idx = list(range(len(classes)))
    present = sorted(set(labels.tolist()))
    recalls = recall_score(labels, pred, labels=all_idx, average=None, zero_division=0)
    out: dict[str, Any] = {
        "n": int(len(labels)),
        "accuracy": float(accuracy_score(labels, pred)),
        "macro_f1": float(f1_score(labels, pred, labels=present, average="macro", zero_division=0)),
        "per_class_recall": {c: float(r) for c, r in zip(classes, recalls) if all_idx[classes.index(c)] in present},
        "confusion": confusion_matrix(labels, pred, labels=all_idx).tolist(),
        "ece": expected_calibration_error(probs, labels),
        "reliability": reliability_bins(probs, labels),
        "classes": list(classes),
    }
    if len(present) < len(classes):
        restricted = np.array(present)[probs[:, present].argmax(axis=1)]
        out["accuracy_present_classes"] = float(accuracy_score(labels, restricted))
        out["classes_present"] = [classes[i] for i in present]
    return out


@torch.inference_mode()
def predict_logits(model: torch.nn.Module, images: np.ndarray, spec: ModelSpec, batch_size: int = 256,
                   flip_tta: bool = True) -> np.ndarray:
    """Logits for grey face crops, averaged with the mirrored face when `flip_tta`."""
    outs = []
    for i in range(0, len(images), batch_size):
        x = prepare_batch(images[i:i + batch_size], spec)
        logits = model(x)
        if flip_tta:
            logits = (logits + model(torch.flip(x, dims=[3]))) / 2
        outs.append(logits.float())
    return torch.cat(outs).numpy()


def evaluate_crops(model: torch.nn.Module, spec: ModelSpec, images: np.ndarray, labels: np.ndarray,
                   flip_tta: bool = True) -> dict[str, Any]:
    probs = softmax(predict_logits(model, images, spec, flip_tta=flip_tta))
    return compute_metrics(probs, labels, spec.labels)


def paired_comparison(base_right: np.ndarray, right: np.ndarray) -> tuple[int, int, float]:
    """Faces a candidate gets right that the baseline misses (gained), the reverse (lost), and the exact
    McNemar p-value: whether the difference is evidence or a few lucky faces."""
    from scipy.stats import binomtest

    gained, lost = int((right & ~base_right).sum()), int((~right & base_right).sum())
    return gained, lost, float(binomtest(gained, gained + lost).pvalue) if gained + lost else 1.0
