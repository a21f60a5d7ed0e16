"""Weight averaging ("model soup") of two saved models of one architecture, measured on FER2013Valid.

When one model was trained further from the other (v3 from v2), their weights often lie in one basin, and
their average can beat both at no cost per face. This measures it, with an exact McNemar test against the
first model, before anything is shipped.

    fer-lens weight-average fer-resnet10t-v2 runs/v3-kd/fer-resnet10t-v3.safetensors [--recalibrate-bn]
"""
from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np
import torch

from fer_core.evaluation.metrics import paired_comparison, predict_logits
from fer_core.model.checkpoint import load_model
from fer_core.model.preprocess import prepare_batch, softmax
from fer_core.model.spec import ModelSpec
from fer_core.paths import shared_dir
from fer_core.training.data import load_dataset
from fer_core.training.train import initial_weights


def average_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], w: float) -> dict[str, torch.Tensor]:
    """(1 - w) * a + w * b for float tensors; integer buffers (batch counts) are taken from `a`."""
    if a.keys() != b.keys():
        raise ValueError("the two models do not have the same layers")
    return {k: a[k].float() * (1 - w) + b[k].float() * w if a[k].is_floating_point() else a[k] for k in a}


@torch.no_grad()
def recalibrate_batch_norm(model: torch.nn.Module, images: np.ndarray, spec: ModelSpec) -> None:
    """Recompute batch-norm statistics (a plain mean over the given faces and their mirrors)."""
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    for i in range(0, len(images), 256):
        x = prepare_batch(images[i:i + 256], spec)
        model(x)
        model(torch.flip(x, dims=[3]))
    model.eval()


def study(first_name: str, second_name: str, weights: Iterable[float] = (0.3, 0.5, 0.7), recalibrate_bn: bool = False,
          data: str | None = None) -> Iterator[str]:
    """The measurement, as report lines: valid accuracy of each mix against the first model as it is."""
    data = data or str(shared_dir() / "data" / "ferplus")
    first = load_model(first_name)
    spec = first.spec
    if load_model(second_name).spec != spec:
        raise ValueError("the two models need the same architecture and input")
    valid = load_dataset(data, "auto", "valid", spec.source_size)
    train_faces = None
    if recalibrate_bn:
        train = load_dataset(data, "auto", "train", spec.source_size)
        train_faces = train.images[np.random.default_rng(0).permutation(len(train))[:8192]]
    a, b = initial_weights(first_name), initial_weights(second_name)  # valid-set corrections taken out

    def predictions(state: dict[str, torch.Tensor], recalibrate: bool) -> np.ndarray:
        model = spec.create()
        model.load_state_dict(state)
        model.eval()
        if recalibrate and train_faces is not None:
            recalibrate_batch_norm(model, train_faces, spec)
        return softmax(predict_logits(model, valid.images, spec)).argmax(1)

    base = predictions(a, recalibrate=False) == valid.labels
    yield (f"FER2013Valid, {len(valid)} faces, raw networks (no offsets or temperature); batch norm of the mixes "
          f"{'recomputed on training faces' if train_faces is not None else 'averaged'}")
    yield (f"  {first_name} as it is: {base.mean():.2%}")
    for w in [0.0, *(float(v) for v in weights), 1.0]:
        right = predictions(average_state(a, b, w), recalibrate=True) == valid.labels
        gained, lost, p = paired_comparison(base, right)
        yield (f"  {1 - w:.1f} x first + {w:.1f} x second: {right.mean():.2%}  +{gained} / -{lost} faces vs the "
              f"first as it is (exact McNemar p = {p:.2f})")
