"""Helpers shared by the dashboard tests: which model the app should load, and small test images."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fer_core.report import png_bytes
from tests.conftest import REPO

DEV_MODEL = REPO / "runs" / "dev" / "dev-pilot.safetensors"


def model_env() -> dict[str, str]:
    """Environment for the app: {} when the built-in model (or $FER_LENS_MODEL) resolves, else the dev
    checkpoint; skips when there is no model at all."""
    from fer_core.model.catalog import resolve_model_path

    try:
        resolve_model_path(None)
        return {}
    except FileNotFoundError:
        if DEV_MODEL.exists():
            return {"FER_LENS_MODEL": str(DEV_MODEL)}
    pytest.skip("no model: neither a built-in model (fer_core/weights, $FER_LENS_MODEL) nor " + str(DEV_MODEL))


def blank_png(width: int = 320, height: int = 240) -> bytes:
    """A plain grey picture: a readable image with no face in it."""
    return png_bytes(np.full((height, width, 3), 200, np.uint8))


def full_card_copy(tmp: Path, source: Path) -> Path:
    """A checkpoint in `tmp` with `source`'s weights and a card holding every section the Model page
    shows, filled with small made-up numbers (so the page's figures are exercised without a real run)."""
    from fer_core.evaluation.metrics import compute_metrics

    card = json.loads(source.with_suffix(".json").read_text())
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 8, 200)
    probs = rng.dirichlet(np.ones(8), 200)
    probs[np.arange(100), labels[:100]] += 2  # right half the time
    probs /= probs.sum(1, keepdims=True)
    card.update({
        "architecture": card["spec"]["timm_name"], "date": "2026-11-25", "git_commit": "0123456789abcdef",
        "data": {"train": "FER2013Train with FER+ votes", "selection": "FER2013Valid only"},
        "training_command": "python -m fer_core train ../shared/data/ferplus --arch resnet10t",
        "training": {"epochs": 1, "lr": 0.001},
        "metrics_test": compute_metrics(probs, labels),
        "latency": {"threads": 2, "classify_ms_b1": 2.5, "classify_faces_per_s_b64": 900.0,
                    "detect_ms_640x480": {"haar": 30.0, "mtcnn": 12.0, "default": 12.0},
                    "default_detector": "mtcnn", "analyze_ms_1280x720": 80.0, "analyze_faces": 3},
        "generalisation": {"posed_photos_correct": "5/7", "posed_photos": {
            "happy": {"expected": "happiness", "predicted": "happiness", "confidence": 0.97}}},
        "explain_bench": {"gradcam": {"method": "gradcam", "n": 32, "ms": 20.0, "deletion_auc": 0.2,
                                      "insertion_auc": 0.5, "faithful_share": 0.3},
                          "gradcam@layer3": {"method": "gradcam", "layer": "layer3", "n": 32, "ms": 20.0,
                                             "deletion_auc": 0.25, "insertion_auc": 0.45,
                                             "faithful_share": 0.2}},
        "robustness": {"n": 200, "clean": {"accuracy": 0.8},
                       "perturbations": {"eyes_occluded": {"title": "Eyes covered", "accuracy": 0.7,
                                                           "accuracy_drop": 0.1},
                                         "blur": {"title": "Blurred", "accuracy": 0.5, "accuracy_drop": 0.3}}},
    })
    out = tmp / "full-card.safetensors"
    out.symlink_to(source.resolve())
    out.with_suffix(".json").write_text(json.dumps(card))
    return out


def score_charts(at) -> list[str]:
    """The HTML bodies of every face's score bars (`ui.figures.score_bars`) on an AppTest page."""
    return [h.proto.body for h in at.get("html") if "fer-score-bars" in h.proto.body]
