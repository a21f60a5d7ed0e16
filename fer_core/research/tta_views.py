"""Does averaging more test-time views than the mirror help? Measured on FER2013Valid only.

The app averages each face with its mirror image. Multi-crop averaging (small shifts, zooms) is a classic
FER trick; this checks it for a given model, with an exact McNemar test against the mirror alone, so the
answer is evidence rather than a lucky difference of a few faces.

    fer-lens tta-views [--model NAME] [--split valid] [--json]
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from fer_core.evaluation.metrics import paired_comparison
from fer_core.model.preprocess import prepare_batch, softmax

View = Callable[[torch.Tensor], torch.Tensor]


def shifted(dx: int, dy: int) -> View:
    """The crop moved by (dx, dy) pixels, the border replicated."""
    def view(x: torch.Tensor) -> torch.Tensor:
        pad, size = max(abs(dx), abs(dy)), x.shape[-1]
        padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
        return padded[..., pad + dy:pad + dy + size, pad + dx:pad + dx + size]
    return view


def zoomed(factor: float) -> View:
    """The crop scaled about its centre (>1 crops in, <1 shrinks with a replicated border)."""
    def view(x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-1]
        n = int(round(size * factor))
        y = F.interpolate(x, size=(n, n), mode="bilinear", align_corners=False)
        if n >= size:
            o = (n - size) // 2
            return y[..., o:o + size, o:o + size]
        p = size - n
        return F.pad(y, (p // 2, p - p // 2, p // 2, p - p // 2), mode="replicate")
    return view


def candidate_views() -> dict[str, View]:
    views: dict[str, View] = {"original": lambda x: x}
    for d in (2, 3):
        for dx, dy in ((d, 0), (-d, 0), (0, d), (0, -d)):
            views[f"shift {dx:+d},{dy:+d}"] = shifted(dx, dy)
    for z in (0.92, 1.08):
        views[f"zoom {z}"] = zoomed(z)
    return views


VIEW_SETS = {
    "mirror only (the app)": ["original"],
    "4 shifts of 2 px": ["original", "shift +2,+0", "shift -2,+0", "shift +0,+2", "shift +0,-2"],
    "4 shifts of 3 px": ["original", "shift +3,+0", "shift -3,+0", "shift +0,+3", "shift +0,-3"],
    "zoom 0.92 and 1.08": ["original", "zoom 0.92", "zoom 1.08"],
}


@torch.inference_mode()
def view_probabilities(model: torch.nn.Module, images: np.ndarray, spec: Any,
                       views: dict[str, View]) -> dict[str, np.ndarray]:
    """Per view: (2, N, classes) probabilities of the view and of its mirror."""
    out: dict[str, list[np.ndarray]] = {name: [] for name in views}
    for i in range(0, len(images), 512):
        x = prepare_batch(images[i:i + 512], spec)
        for name, view in views.items():
            v = view(x).contiguous(memory_format=torch.channels_last)
            pair = torch.stack([model(v), model(torch.flip(v, dims=[3]))]).float().numpy()
            out[name].append(softmax(pair.reshape(-1, pair.shape[-1])).reshape(pair.shape))
    return {name: np.concatenate(parts, axis=1) for name, parts in out.items()}


def compare(probs: dict[str, np.ndarray], labels: np.ndarray) -> list[dict[str, Any]]:
    """Accuracy of each view set, with the faces it gains and loses against the mirror alone."""
    def predict(names: list[str]) -> np.ndarray:
        return np.concatenate([probs[n] for n in names]).mean(axis=0).argmax(1)

    base = predict(VIEW_SETS["mirror only (the app)"]) == labels
    sets = dict(VIEW_SETS, **{"all views": list(probs)})
    rows = []
    for title, names in sets.items():
        right = predict(names) == labels
        gained, lost, p = paired_comparison(base, right)
        rows.append({"views": title, "passes_per_face": 2 * len(names), "accuracy": float(right.mean()),
                     "gained": gained, "lost": lost, "mcnemar_exact_p": p})
    return rows
