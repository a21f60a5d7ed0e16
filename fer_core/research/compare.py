"""Two saved models on one FER+ split, face by face: is the second better, or only lucky on a few faces?

Each model is read as the app reads it (its own input size, its valid-chosen corrections, the mirror
averaged in). The exact McNemar test over the faces they disagree on says whether a difference in accuracy
is evidence. Choose on valid; run on test only to report a choice already made.

    fer-lens compare fer-resnet10t-v2 runs/s48-kd/fer-resnet10t-s48-v1.safetensors [--split valid]
"""
from __future__ import annotations

from typing import Any

import numpy as np

from fer_core.evaluation.metrics import compute_metrics, paired_comparison, predict_logits
from fer_core.model.checkpoint import load_model
from fer_core.model.preprocess import softmax
from fer_core.training.data import FaceDataset, load_dataset


def compare_models(first: str, second: str, data: str, split: str = "valid", limit: int = 0) -> dict[str, Any]:
    """Accuracy, macro-F1 and lowest recall of each model, and the paired comparison of the second against
    the first (faces gained, faces lost, exact McNemar p)."""
    rows, right = [], []
    labels = None
    datasets: dict[int, FaceDataset] = {}  # by the size faces are reduced to: read once when both models share it
    for name in (first, second):
        loaded = load_model(name)
        size = loaded.spec.source_size
        if size not in datasets:
            datasets[size] = load_dataset(data, "auto", split, size)
        ds = datasets[size]
        images, ds_labels = (ds.images[:limit], ds.labels[:limit]) if limit else (ds.images, ds.labels)
        if labels is not None and not np.array_equal(labels, ds_labels):
            raise ValueError("the two models were given different faces")
        labels = ds_labels
        probs = softmax(predict_logits(loaded.model, images, loaded.spec))
        m = compute_metrics(probs, labels, loaded.spec.labels)
        recalls = m["per_class_recall"]
        lowest = min(recalls, key=recalls.get)
        rows.append({"model": loaded.name, "accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
                     "lowest_recall": {"class": lowest, "recall": recalls[lowest]}})
        right.append(probs.argmax(1) == labels)
    gained, lost, p = paired_comparison(right[0], right[1])
    return {"split": split, "faces": int(len(labels)), "models": rows,
            "second_vs_first": {"gained": gained, "lost": lost, "mcnemar_exact_p": p}}
