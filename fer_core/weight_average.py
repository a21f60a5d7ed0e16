"""Weight averaging ("model soup") of two saved models of one architecture, measured on FER2013Valid.

When one model was trained further from the other (v3 from v2), their weights often lie in one basin, and
their average can beat both at no cost per face. This measures it, with an exact McNemar test against the
first model, before anything is shipped.

    python -m fer_core.weight_average fer-resnet10t-v2 runs/v3-kd/fer-resnet10t-v3.safetensors [--recalibrate-bn]
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from .data import load_dataset
from .evaluate import paired_comparison, predict_logits, prepare_batch, softmax
from .models import ModelSpec, load_model
from .paths import shared_dir
from .train import initial_weights


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("first")
    ap.add_argument("second")
    ap.add_argument("--weights", default="0.3,0.5,0.7", help="shares of the second model to try")
    ap.add_argument("--recalibrate-bn", action="store_true", help="recompute batch norm on 8192 training faces")
    ap.add_argument("--data", default=str(shared_dir() / "data" / "ferplus"))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    first = load_model(args.first)
    spec = first.spec
    if load_model(args.second).spec != spec:
        raise SystemExit("weight_average: the two models need the same architecture and input")
    valid = load_dataset(args.data, "auto", "valid", spec.source_size)
    train_faces = None
    if args.recalibrate_bn:
        train = load_dataset(args.data, "auto", "train", spec.source_size)
        train_faces = train.images[np.random.default_rng(0).permutation(len(train))[:8192]]
    a, b = initial_weights(args.first), initial_weights(args.second)  # valid-set corrections taken out

    def predictions(state: dict[str, torch.Tensor], recalibrate: bool) -> np.ndarray:
        model = spec.create()
        model.load_state_dict(state)
        model.eval()
        if recalibrate and train_faces is not None:
            recalibrate_batch_norm(model, train_faces, spec)
        return softmax(predict_logits(model, valid.images, spec)).argmax(1)

    base = predictions(a, recalibrate=False) == valid.labels
    print(f"FER2013Valid, {len(valid)} faces, raw networks (no offsets or temperature); batch norm of the mixes "
          f"{'recomputed on training faces' if train_faces is not None else 'averaged'}")
    print(f"  {args.first} as it is: {base.mean():.2%}")
    for w in [0.0, *(float(v) for v in args.weights.split(",")), 1.0]:
        right = predictions(average_state(a, b, w), recalibrate=True) == valid.labels
        gained, lost, p = paired_comparison(base, right)
        print(f"  {1 - w:.1f} x first + {w:.1f} x second: {right.mean():.2%}  +{gained} / -{lost} faces vs the "
              f"first as it is (exact McNemar p = {p:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
