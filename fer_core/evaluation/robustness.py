"""The robustness report: accuracy on FER2013Test when every face is perturbed the same way (eyes or
mouth covered, darker, brighter, blurred, tilted, heavy JPEG), beside the clean accuracy.

It shows where the model is brittle, for the model card, the Model page, and the Robustness page's
teaching text. Evaluation follows the protocol of ../shared/data/README.md (FER+ majority, 8 classes, the
model's own test-time flip averaging)."""
from __future__ import annotations

from typing import Any

import numpy as np

from fer_core.evaluation.metrics import evaluate_crops
from fer_core.evaluation.perturb import PERTURBATIONS, perturb, perturb_many
from fer_core.model.checkpoint import LoadedModel


def robustness_report(loaded: LoadedModel, images: np.ndarray, labels: np.ndarray,
                      names: list[str] | None = None) -> dict[str, Any]:
    """{"clean": metrics-summary, "perturbations": {name: summary + drop}} for grey test crops."""
    def summary(m: dict[str, Any]) -> dict[str, Any]:
        return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
                "per_class_recall": m["per_class_recall"], "ece": m["ece"]}

    clean = summary(evaluate_crops(loaded.fast, loaded.spec, images, labels))
    out: dict[str, Any] = {"n": int(len(images)), "clean": clean, "perturbations": {}}
    for name in names or list(PERTURBATIONS):
        m = summary(evaluate_crops(loaded.fast, loaded.spec, perturb_many(images, name), labels))
        m["accuracy_drop"] = clean["accuracy"] - m["accuracy"]
        m["title"] = PERTURBATIONS[name].title
        out["perturbations"][name] = m
    return out


def run(model: str | None = None, data: str | None = None, limit: int = 0,
        cache_dir: str | None = ".cache/data") -> dict[str, Any]:
    """The report for a checkpoint on FER2013Test (the first `limit` faces when limit > 0)."""
    from fer_core.model.checkpoint import load_model
    from fer_core.paths import shared_dir
    from fer_core.training.data import load_dataset

    loaded = load_model(model)
    root = data or str(shared_dir() / "data" / "ferplus")
    ds = load_dataset(root, "ferplus", "test", loaded.spec.source_size, cache_dir=cache_dir)
    images, labels = ds.images, ds.labels
    if limit:
        images, labels = images[:limit], labels[:limit]
    return robustness_report(loaded, images, labels)


def face_under_perturbations(classify, crop: np.ndarray, names: list[str] | None = None
                             ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """One aligned face crop under every perturbation: {name: (perturbed crop, class probabilities)}, with
    "original" first. `classify` maps a stack of crops to probabilities (`Recognizer.classify_crops`); all
    versions go through it in one batch."""
    names = names or list(PERTURBATIONS)
    crops = [crop] + [perturb(crop, n) for n in names]
    probs = classify(np.stack(crops))
    return {name: (c, p) for name, c, p in zip(["original", *names], crops, probs)}
