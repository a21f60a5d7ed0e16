"""`explain-bench`: how faithful each heatmap method is (deletion/insertion AUC, share of maps that pass the
trust check) and how long it takes per face, on FER2013Test faces."""
from __future__ import annotations

from typing import Any

import numpy as np

from fer_core.explain.attribution import explain_input
from fer_core.explain.registry import available_methods
from fer_core.model.checkpoint import LoadedModel
from fer_core.model.preprocess import prepare_batch


def bench_variants(loaded: LoadedModel) -> dict[str, tuple[str, dict[str, Any]]]:
    """One row per method that works on this model, with default options."""
    return {name: (name, {}) for name in available_methods(loaded.model)}


def explain_bench(loaded: LoadedModel, n_faces: int = 32, data_root: str | None = None,
                  variants: dict[str, tuple[str, dict[str, Any]]] | None = None,
                  cache_dir: str | None = ".cache/data", images: np.ndarray | None = None) -> dict[str, dict]:
    """Mean deletion AUC, insertion AUC and ms per face for every method, explaining the predicted class
    on the first `n_faces` FER+ test faces (or on `images`: (N, 48, 48) grey uint8).

    `variants` maps a row name to (method, options), e.g. {"gradcam@layer3": ("gradcam", {"layer": "layer3"})}.
    """
    if images is None:
        from fer_core.paths import shared_dir
        from fer_core.training.data import load_dataset
        root = data_root or str(shared_dir() / "data" / "ferplus")
        images = load_dataset(root, "ferplus", "test", cache_dir=cache_dir).images
    images = images[:n_faces]
    xs = prepare_batch(images, loaded.spec)
    out: dict[str, dict] = {}
    for row, (method, opts) in (variants or bench_variants(loaded)).items():
        ms, dels, inss, gaps, refs, verdicts = [], [], [], [], [], []
        for i in range(len(xs)):
            e = explain_input(loaded, xs[i: i + 1], method, faithfulness="fast", **opts)
            ms.append(e.ms)
            dels.append(e.deletion_auc)
            inss.append(e.insertion_auc)
            gaps.append(e.faithfulness.relative_gap)
            refs.append(e.faithfulness.reference_gap)
            verdicts.append(e.faithfulness.verdict)
        out[row] = {"method": method, **opts, "n": len(xs), "ms": float(np.mean(ms)),
                    "ms_median": float(np.median(ms)), "deletion_auc": float(np.mean(dels)),
                    "insertion_auc": float(np.mean(inss)), "relative_gap": float(np.mean(gaps)),
                    "centre_blob_gap": float(np.mean(refs)),
                    "faithful_share": verdicts.count("faithful") / len(verdicts)}
    return out


def faithful_within_noise(table: dict[str, dict]) -> list[str]:
    """The methods whose share of passing maps is within the sampling noise of the best one (two binomial
    standard errors of the best share, on the table's own number of faces), fastest first. On 200 faces two
    methods 3 faces apart are a tie; the sidebar's default should be the fastest of the tied, since a group
    photo's heatmaps wait for it."""
    rows = {row.get("method", name): row for name, row in table.items() if "@" not in name}
    if not rows:
        return []
    best = max(r["faithful_share"] for r in rows.values())
    n = max(1, min(int(r.get("n", 1)) for r in rows.values()))
    margin = 2 * (best * (1 - best) / n) ** 0.5
    tied = [m for m, r in rows.items() if r["faithful_share"] >= best - margin]
    return sorted(tied, key=lambda m: rows[m]["ms"])

