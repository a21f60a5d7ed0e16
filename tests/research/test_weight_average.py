"""Weight averaging of two saved models (`fer-lens weight-average`), on the shipped weights."""
from __future__ import annotations

import pytest
import torch

from fer_core.research.weight_average import average_state
from fer_core.training.train import initial_weights


def test_average_runs_from_one_model_to_the_other() -> None:
    a = initial_weights("fer-resnet10t-v2")
    b = {k: v * 2 if v.is_floating_point() else v for k, v in a.items()}
    for w in (0.0, 0.3, 1.0):
        soup = average_state(a, b, w)
        for k in ("conv1.0.weight", "fc.weight", "bn1.running_var"):
            torch.testing.assert_close(soup[k], a[k] * (1 + w))
    assert torch.equal(average_state(a, b, 0.5)["bn1.num_batches_tracked"], a["bn1.num_batches_tracked"])


def test_models_with_different_layers_are_refused() -> None:
    a = initial_weights("fer-resnet10t-v2")
    other = {k: v for k, v in a.items() if not k.startswith("fc.")}  # e.g. a model without this head
    with pytest.raises(ValueError, match="same layers"):
        average_state(a, other, 0.5)
