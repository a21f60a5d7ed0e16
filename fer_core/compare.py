"""Two saved models on one FER+ split, face by face: is the second better, or only lucky on a few faces?

Each model is read as the app reads it (its own input size, its valid-chosen corrections, the mirror
averaged in). The exact McNemar test over the faces they disagree on says whether a difference in accuracy
is evidence. Choose on valid; run on test only to report a choice already made.

    python -m fer_core.compare fer-resnet10t-v2 runs/s48-kd/fer-resnet10t-s48-v1.safetensors [--split valid]
"""
from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np
import torch

from .data import FaceDataset, load_dataset
from .evaluate import compute_metrics, paired_comparison, predict_logits, softmax
from .models import load_model
from .paths import shared_dir


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("first", help="the reference (built-in name or path)")
    ap.add_argument("second", help="the candidate")
    ap.add_argument("--data", default=str(shared_dir() / "data" / "ferplus"))
    ap.add_argument("--split", default="valid", help="valid (for choosing); test only to report a choice")
    ap.add_argument("--limit", type=int, default=0, help="only the first N faces (0 = all)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = compare_models(args.first, args.second, args.data, args.split, args.limit)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"FER2013{args.split.capitalize()}, {out['faces']} faces, each model as the app reads it")
    for r in out["models"]:
        low = r["lowest_recall"]
        print(f"  {r['model']:<28} accuracy {r['accuracy']:.2%}  macro-F1 {r['macro_f1']:.3f}  "
              f"lowest recall {low['class']} {low['recall']:.2f}")
    c = out["second_vs_first"]
    print(f"  the second gets {c['gained']} faces right that the first misses, and misses {c['lost']} that the "
          f"first gets right (exact McNemar p = {c['mcnemar_exact_p']:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
