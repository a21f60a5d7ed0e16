"""Declarative model specs over `timm.create_model`, and safetensors checkpoints with a JSON model card.

A spec holds every preprocessing fact the classifier was trained with (input size, channels, mean/std, the
resolution faces are reduced to first, label order), and it travels inside the checkpoint's card, so
inference can never disagree with training.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from fer_core.model.catalog import WEIGHT_SUFFIXES, resolve_model_path  # noqa: F401 - re-exported
from fer_core.model.spec import ModelSpec


def inference_module(model: torch.nn.Module) -> torch.nn.Module:
    """A separate, faster copy for plain classification: batch norm folded into the convolutions (torch.fx)
    and channels-last memory, which together take batch-1 latency on 2 cores from ~5.9 to ~4.0 ms.
    Explanations keep using the original module, whose layer names Grad-CAM needs."""
    try:
        from torch.fx.experimental.optimization import fuse

        fast = fuse(model)
    except Exception:  # a model torch.fx cannot trace still works, just without folding
        fast = copy.deepcopy(model)
    fast = fast.to(memory_format=torch.channels_last).eval()
    for p in fast.parameters():
        p.requires_grad_(False)
    return fast


@dataclass
class LoadedModel:
    """A classifier in eval mode with its spec and model card.

    `model` is the reference module (explanations hook a private twin of it); `fast` computes the same
    logits (to ~1e-5) faster, for forward passes only: the graph twin in ONNX Runtime where the model has one,
    else a folded torch copy. Both are read-only once loaded.
    """

    model: torch.nn.Module
    spec: ModelSpec
    card: dict[str, Any]
    path: Path | None = None
    fast: torch.nn.Module | None = None

    def __post_init__(self) -> None:
        if self.fast is None:
            self.fast = inference_module(self.model)

    @property
    def name(self) -> str:
        return self.card.get("name", self.spec.timm_name)


def save_checkpoint(model: torch.nn.Module, spec: ModelSpec, card: dict[str, Any], path: str | Path) -> Path:
    """Write `<path>.safetensors` (float16) and `<path>.json` (the model card, which embeds the spec)."""
    path = Path(path).with_suffix("")
    path.parent.mkdir(parents=True, exist_ok=True)
    # float16 storage halves the file; weights are upcast to float32 on load (accuracy unchanged).
    state = {k: v.detach().half().contiguous().clone() for k, v in model.state_dict().items()
             if v.dtype.is_floating_point}
    save_file(state, str(path) + ".safetensors")
    card = dict(card, spec=spec.to_json())
    Path(str(path) + ".json").write_text(json.dumps(card, indent=2) + "\n")
    return Path(str(path) + ".safetensors")


def load_model(name_or_path: str | Path | None = None, graph_twin: bool = True) -> LoadedModel:
    """Load weights with safetensors (no pickle), in eval mode with gradients off; an exported `.onnx`
    model classifies with ONNX Runtime and keeps its fp32 reference for explanations. `graph_twin=False` leaves
    the model's graph twin out (its fast copy is then the folded torch one): for the exports, which read only the
    torch module and must work when the twin they remake no longer matches the weights."""
    path = resolve_model_path(name_or_path)
    card = json.loads(path.with_suffix(".json").read_text())
    if path.suffix == ".onnx":
        return _load_onnx_model(path, card)
    spec = ModelSpec.from_json(card["spec"])
    fast = _graph_twin_fast(path, card) if graph_twin else None
    return LoadedModel(_load_torch_module(path, spec), spec, card, path, fast=fast)


def _graph_twin_fast(path: Path, card: dict[str, Any]) -> torch.nn.Module | None:
    """The model's graph twin as its `fast` copy where it has one (faster than the folded torch copy for the
    same logits, to ~1e-5), on as many threads as torch is set to; else None, and the folded copy is built."""
    from fer_core.model.graph_twin import TensorGraphClassifier, graph_classifier

    graph = graph_classifier(path, card, threads=max(1, torch.get_num_threads()))
    return None if graph is None else TensorGraphClassifier(graph)


def _load_torch_module(path: Path, spec: ModelSpec) -> torch.nn.Module:
    """The safetensors weights in a fresh module (strict: every weight must fit), eval mode, gradients off."""
    model = spec.create_for_inference()
    state = {k: v.float() for k, v in load_file(str(path)).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    real_missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if real_missing or unexpected:
        raise ValueError(f"{path}: checkpoint does not match {spec.timm_name}: missing {real_missing[:5]}, "
                         f"unexpected {unexpected[:5]}")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def _load_onnx_model(path: Path, card: dict[str, Any]) -> LoadedModel:
    from fer_core.model.onnx_runtime import OnnxClassifier

    runtime = card["runtime"]
    reference = runtime["reference_model"]
    beside = path.parent / f"{reference}.safetensors"
    ref_path = resolve_model_path(beside if beside.exists() else reference)
    spec = ModelSpec.from_json(card["spec"])
    # only the reference's module is needed (for explanations): no fused fast copy of it is built
    model = _load_torch_module(ref_path, spec)
    return LoadedModel(model, spec, card, path, fast=OnnxClassifier(path, sha256=runtime.get("sha256")))


def update_card(name_or_path: str | Path | None, section: str, value: Any, command: str = "") -> Path:
    """Record measured figures (test metrics, latency, ...) in a checkpoint's model card, with the command
    that produced them, so every number in the card can be reproduced."""
    card_path = resolve_model_path(name_or_path).with_suffix(".json")
    card = json.loads(card_path.read_text())
    card[section] = value
    if command:
        card.setdefault("commands", {})[section] = command
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    return card_path
