"""Declarative model specs over `timm.create_model`, and safetensors checkpoints with a JSON model card.

A spec holds every preprocessing fact the classifier was trained with (input size, channels, mean/std, the
resolution faces are reduced to first, label order), and it travels inside the checkpoint's card, so
inference can never disagree with training.
"""
from __future__ import annotations

import copy
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import timm
import torch
from safetensors.torch import load_file, save_file

from .labels import CLASSES

from .catalog import BUILTIN_DIR, DEFAULT_MODEL, builtin_models  # noqa: F401  (re-exported)


@dataclass(frozen=True)
class ModelSpec:
    """How to build a classifier and feed it: the single source of truth for one architecture."""

    timm_name: str
    input_size: int = 64
    in_chans: int = 1
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.25,)
    # Faces are first reduced to this size (FER2013's native 48 px), then resized to input_size, so that
    # photo crops carry the same level of detail as the training data.
    source_size: int = 48
    labels: tuple[str, ...] = CLASSES
    cam_layer: str = ""  # dotted module path Grad-CAM should target
    timm_kwargs: dict[str, Any] = field(default_factory=dict)
    # False drops a ResNet's stem max-pool (timm has no option for it): every later feature map is twice as
    # wide, which suits 48 px faces that a stride-32 network would shrink to 2x2.
    stem_pool: bool = True

    def create(self) -> torch.nn.Module:
        model = timm.create_model(self.timm_name, pretrained=False, num_classes=len(self.labels),
                                  in_chans=self.in_chans, **self.timm_kwargs)
        if not self.stem_pool:
            if not isinstance(getattr(model, "maxpool", None), torch.nn.MaxPool2d):
                raise ValueError(f"{self.timm_name} has no stem max-pool to drop")
            model.maxpool = torch.nn.Identity()
        return model

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["mean"], d["std"], d["labels"] = list(self.mean), list(self.std), list(self.labels)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "ModelSpec":
        d = dict(d)
        for k in ("mean", "std", "labels"):
            d[k] = tuple(d[k])
        return cls(**d)


# FER2013 grey statistics (measured on FER2013Train: mean 0.508, std 0.255).
_FER_NORM = dict(mean=(0.508,), std=(0.255,))

SPECS: dict[str, ModelSpec] = {
    "convnext_atto": ModelSpec("convnext_atto", 64, cam_layer="stages.3", **_FER_NORM),
    "resnet18": ModelSpec("resnet18", 64, cam_layer="layer4", **_FER_NORM),
    # Grad-CAM on layer3 (4x4 for a 64 px face) rather than layer4 (2x2): on fer-resnet10t-v1 it is more
    # faithful (32 FER2013Test faces: insertion AUC 0.664 vs 0.644, deletion-insertion gap 0.18 vs 0.14)
    # and its maps land on facial regions instead of the crop corners.
    "resnet10t": ModelSpec("resnet10t", 64, cam_layer="layer3", **_FER_NORM),
    # The same network fed FER's native 48 px (no upscaling): 57 M multiply-adds per face instead of 89 M,
    # for the real-time engine on CPUs without VNNI. Grad-CAM on layer2 (6x6): layer3 would be only 3x3.
    "resnet10t_48": ModelSpec("resnet10t", 48, cam_layer="layer2", **_FER_NORM),
    # A stem suited to small faces: FER's native 48 px, no stem max-pool, so the four stages see 24, 12, 6
    # and 3 px maps (v2: 16, 8, 4, 2) for 156 M multiply-adds per face (v2: 89 M). Grad-CAM on layer3: 6x6.
    "resnet10t_s48": ModelSpec("resnet10t", 48, cam_layer="layer3", stem_pool=False, **_FER_NORM),
    # resnet10t with CBAM blocks: each block's spatial-attention gate is a real attention map the model
    # multiplies its features by (layer1: 16x16, layer2: 8x8, layer3: 4x4 for a 64 px face).
    "resnet10t_cbam": ModelSpec("resnet10t", 64, cam_layer="layer3",
                                timm_kwargs={"block_args": {"attn_layer": "cbam"}}, **_FER_NORM),
    "efficientvit_b0": ModelSpec("efficientvit_b0", 64, cam_layer="stages.3", **_FER_NORM),
}


ATTENTION_GATE_SUFFIX = "se.spatial.gate"  # timm CBAM blocks: the sigmoid that multiplies the block's features


def attention_layers(model: torch.nn.Module) -> list[str]:
    """Names of the model's spatial-attention gates (empty for a model without attention blocks)."""
    return [name for name, _ in model.named_modules() if name.endswith(ATTENTION_GATE_SUFFIX)]


def attention_card(model: torch.nn.Module) -> dict[str, Any] | None:
    """The model card's statement about attention: which gates exist and how the app shows them."""
    layers = attention_layers(model)
    if not layers:
        return None
    return {"kind": "CBAM spatial attention (Woo et al. 2018): each residual stage's first block multiplies "
                    "its features by a learned sigmoid gate per position",
            "layers": layers,
            "shown_as": "the 'attention' heatmap method: the gates of one forward pass (those of at least "
                        "4x4 positions), upsampled and combined by geometric mean; the same for every class"}


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
    logits (to ~1e-6) faster and is what recognition uses. Both are read-only once loaded.
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


WEIGHT_SUFFIXES = (".safetensors", ".onnx")


def resolve_model_path(name_or_path: str | Path | None) -> Path:
    """A built-in model name or a path to a `.safetensors` or exported `.onnx` file (its `.json` card must
    sit beside it)."""
    if name_or_path is None:
        name_or_path = os.environ.get("FER_LENS_MODEL") or DEFAULT_MODEL
    p = Path(name_or_path)
    if p.suffix in WEIGHT_SUFFIXES and p.exists():
        return p
    for suffix in WEIGHT_SUFFIXES:
        if p.suffix in ("", ".json") and p.with_suffix(suffix).exists():
            return p.with_suffix(suffix)
        builtin = BUILTIN_DIR / f"{name_or_path}{suffix}"
        if builtin.exists():
            return builtin
    raise FileNotFoundError(f"no model {name_or_path!r}; built-in models: {', '.join(builtin_models()) or 'none'}")


def load_model(name_or_path: str | Path | None = None) -> LoadedModel:
    """Load weights with safetensors (no pickle), in eval mode with gradients off; an exported `.onnx`
    model classifies with ONNX Runtime and keeps its fp32 reference for explanations."""
    path = resolve_model_path(name_or_path)
    card = json.loads(path.with_suffix(".json").read_text())
    if path.suffix == ".onnx":
        return _load_onnx_model(path, card)
    spec = ModelSpec.from_json(card["spec"])
    return LoadedModel(_load_torch_module(path, spec), spec, card, path)


def _load_torch_module(path: Path, spec: ModelSpec) -> torch.nn.Module:
    """The safetensors weights in a fresh timm module, eval mode, gradients off."""
    model = spec.create()
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
    from .onnx_runtime import OnnxClassifier

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
