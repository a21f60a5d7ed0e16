"""Does averaging more test-time views than the mirror help? Measured on FER2013Valid only.

The app averages each face with its mirror image. Multi-crop averaging (small shifts, zooms) is a classic
FER trick; this checks it for a given model, with an exact McNemar test against the mirror alone, so the
answer is evidence rather than a lucky difference of a few faces.

    python -m fer_core.tta_views [--model NAME] [--split valid] [--json]
"""
from __future__ import annotations

import argparse
import json
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from .data import load_dataset
from .evaluate import paired_comparison, prepare_batch, softmax
from .models import load_model
from .paths import shared_dir

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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--data", default=str(shared_dir() / "data" / "ferplus"))
    ap.add_argument("--split", default="valid", help="valid (for choosing); test only to report a choice")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    loaded = load_model(args.model)
    ds = load_dataset(args.data, "auto", args.split, loaded.spec.source_size)
    rows = compare(view_probabilities(loaded.fast, ds.images, loaded.spec, candidate_views()), ds.labels)
    if args.json:
        print(json.dumps({"model": loaded.name, "split": args.split, "faces": len(ds), "rows": rows}, indent=2))
        return 0
    print(f"{loaded.name} on FER2013{args.split.capitalize()} ({len(ds)} faces); every view also with its mirror")
    for r in rows:
        print(f"  {r['views']:<24} {r['passes_per_face']:>2} passes  {r['accuracy']:.2%}  "
              f"+{r['gained']} / -{r['lost']} faces vs mirror only  (exact McNemar p = {r['mcnemar_exact_p']:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
