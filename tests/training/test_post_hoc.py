"""Post-hoc corrections on real FER2013Valid logits: the per-class recall floor, temperature, fold/unfold."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from fer_core.evaluation.metrics import predict_logits
from fer_core.model.checkpoint import load_model
from fer_core.training.data import load_dataset
from fer_core.training.post_hoc import (
    class_recalls,
    fit_class_offsets,
    fit_temperature,
    fold_into_classifier,
    unfold_from_classifier,
)
from tests.conftest import require_shared


@pytest.fixture(scope="module")
def raw_valid_logits() -> tuple[np.ndarray, np.ndarray]:
    """The default model's logits on FER2013Valid as trained, before its own folded corrections."""
    valid = load_dataset(require_shared("data/ferplus"), "ferplus", "valid")
    loaded = load_model()
    raw = copy.deepcopy(loaded.model)
    unfold_from_classifier(raw, loaded.card["post_hoc"])
    return predict_logits(raw, valid.images, loaded.spec), valid.labels


def test_offsets_lift_every_class_to_the_floor_at_little_cost(raw_valid_logits) -> None:
    logits, labels = raw_valid_logits
    for floor in (0.45, 0.55):
        offset = fit_class_offsets(logits, labels, min_recall=floor)
        after = class_recalls(logits + offset, labels, logits.shape[1])
        assert after.min() >= floor, (floor, after)
        before_acc = (logits.argmax(1) == labels).mean()
        after_acc = ((logits + offset).argmax(1) == labels).mean()
        assert after_acc > before_acc - 0.02  # only the classes below the floor are raised
        assert (offset >= 0).all()


def test_offsets_leave_classes_above_the_floor_alone(raw_valid_logits) -> None:
    logits, labels = raw_valid_logits
    before = class_recalls(logits, labels, logits.shape[1])
    lowest, second = np.sort(before)[:2]
    floor = float(lowest + second) / 2  # only the weakest class is below this floor
    offset = fit_class_offsets(logits, labels, min_recall=floor)
    weakest = int(np.argmin(before))
    assert offset[weakest] > 0
    assert np.count_nonzero(offset) == 1


def test_temperature_undoes_a_known_scaling(raw_valid_logits) -> None:
    logits, labels = raw_valid_logits
    t_own = fit_temperature(logits, labels)
    assert fit_temperature(logits * 2.0, labels) == pytest.approx(2.0 * t_own, rel=0.05)


def test_fold_then_unfold_restores_the_trained_network() -> None:
    loaded = load_model()
    model = copy.deepcopy(loaded.model)
    x = torch.randn(4, 1, loaded.spec.input_size, loaded.spec.input_size)
    with torch.no_grad():
        before = model(x)
    offset = np.linspace(0.0, 0.7, before.shape[1])
    post_hoc = {"logit_offset": offset.tolist(), "temperature": 0.7}
    fold_into_classifier(model, offset, 0.7)
    with torch.no_grad():
        torch.testing.assert_close(model(x), (before + torch.tensor(offset).float()) / 0.7, atol=1e-4, rtol=1e-4)
    unfold_from_classifier(model, post_hoc)
    with torch.no_grad():
        torch.testing.assert_close(model(x), before, atol=1e-4, rtol=1e-4)


def test_unfold_refuses_a_card_without_its_offset() -> None:
    model = copy.deepcopy(load_model().model)
    with pytest.raises(ValueError, match="offset"):
        unfold_from_classifier(model, {"logit_adjustment_tau": 0.15, "temperature": 0.6})
