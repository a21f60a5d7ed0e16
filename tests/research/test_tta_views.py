"""The multi-view test-time augmentation check (`fer-lens tta-views`) on real FER2013Valid faces."""
from __future__ import annotations

import numpy as np
import torch

from fer_core.evaluation.metrics import predict_logits
from fer_core.model.checkpoint import load_model
from fer_core.research.tta_views import VIEW_SETS, candidate_views, compare, shifted, view_probabilities, zoomed
from fer_core.training.data import load_dataset
from tests.conftest import require_shared


def test_views_keep_the_crop_size_and_move_the_face() -> None:
    ramp = torch.arange(64.0).repeat(64, 1).view(1, 1, 64, 64)  # value = column index
    right = shifted(3, 0)(ramp)
    assert right.shape == ramp.shape
    assert right[0, 0, 0, 10].item() == 13.0  # content 3 px further right now shows at column 10
    for factor in (0.92, 1.08):
        z = zoomed(factor)(ramp)
        assert z.shape == ramp.shape
        assert abs(z[0, 0, 32, 32].item() - 32.0) < 1.0  # zoom is about the centre


def test_mirror_only_matches_the_app_and_other_sets_are_scored_against_it() -> None:
    root = require_shared("data", "ferplus")
    loaded = load_model()
    ds = load_dataset(root, "auto", "valid", loaded.spec.source_size)
    idx = np.random.default_rng(0).permutation(len(ds))[:300]
    images, labels = ds.images[np.sort(idx)], ds.labels[np.sort(idx)]
    probs = view_probabilities(loaded.fast, images, loaded.spec, candidate_views())
    app = predict_logits(loaded.model, images, loaded.spec).argmax(1)  # the app: face + mirror
    mirror_only = probs["original"].mean(axis=0).argmax(1)
    assert (mirror_only == app).mean() >= 0.99  # logits vs probabilities averaged: a rare tie may differ
    rows = {r["views"]: r for r in compare(probs, labels)}
    assert set(VIEW_SETS) <= set(rows) and "all views" in rows
    base = rows["mirror only (the app)"]
    assert base["gained"] == base["lost"] == 0 and base["mcnemar_exact_p"] == 1.0
    for r in rows.values():
        assert 0.7 < r["accuracy"] < 0.95  # a real model on real faces, whichever views
        assert abs((r["accuracy"] - base["accuracy"]) * len(labels) - (r["gained"] - r["lost"])) < 1e-6
