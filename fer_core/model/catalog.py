"""Which models are installed, read from the weights folder and the JSON model cards only (no torch), so
the app's sidebar can list them before any model is loaded."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

BUILTIN_DIR = Path(__file__).resolve().parents[1] / "weights"  # fer_core/weights, shipped as package data
DEFAULT_MODEL = "fer-resnet10t-v3"


def builtin_models() -> list[str]:
    """Names of the shipped models: safetensors checkpoints and their exported ONNX (int8) twins."""
    return sorted({p.stem for pattern in ("*.safetensors", "*.onnx") for p in BUILTIN_DIR.glob(pattern)})


def default_model() -> str:
    """`$FER_LENS_MODEL` (a built-in name or a checkpoint path) if set, else the built-in default."""
    return os.environ.get("FER_LENS_MODEL") or DEFAULT_MODEL


def model_choices() -> list[str]:
    """The built-in models, plus `$FER_LENS_MODEL` when that names a checkpoint elsewhere; default first."""
    first = default_model()
    return [first] + [m for m in builtin_models() if m != first]


WEIGHT_SUFFIXES = (".safetensors", ".onnx")


def resolve_model_path(name_or_path: str | Path | None) -> Path:
    """A built-in model name or a path to a `.safetensors` or exported `.onnx` file (its `.json` card must
    sit beside it)."""
    if name_or_path is None:
        name_or_path = default_model()
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


INT8_SUFFIX = "-int8"


def int8_twin(name: str) -> str | None:
    """The shipped int8 ONNX export of a built-in model (what the live Webcam stream runs), if any."""
    if name.endswith(INT8_SUFFIX):
        return None
    twin = f"{name}{INT8_SUFFIX}"
    return twin if (BUILTIN_DIR / f"{twin}.onnx").exists() else None


@dataclass(frozen=True)
class ModelInfo:
    """An installed model as the picker shows it, read from its card alone (no torch)."""

    name: str
    label: str  # the picker's text: the name, its test accuracy, attention, int8
    note: str  # one line for the sidebar's help: what it is good for

    def __str__(self) -> str:
        return self.label


def _card_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    return (path.with_suffix(".json") if path.suffix in (".safetensors", ".onnx", ".json")
            else BUILTIN_DIR / f"{name_or_path}.json")


def model_info(name_or_path: str) -> ModelInfo:
    """The picker's label and note for a built-in name or a checkpoint path (its card beside it)."""
    path = Path(name_or_path)
    try:
        card = json.loads(_card_path(name_or_path).read_text())
    except (OSError, ValueError):
        name = path.stem or str(name_or_path)
        return ModelInfo(name, name, "a model without a readable card")
    parts, notes = [], []
    accuracy = (card.get("metrics_test") or {}).get("accuracy")
    if accuracy is not None:
        parts.append(f"{accuracy:.1%}")
        notes.append(f"reads {accuracy:.0%} of FER2013's test faces as people labelled them")
    if card.get("attention"):
        parts.append("attention")
        notes.append("can show its own attention maps")
    if "int8" in (card.get("runtime") or {}).get("quantization", ""):
        parts.append("int8, fastest")
        notes.append("a compact 8-bit copy for live video")
    name = card.get("name", path.stem)
    return ModelInfo(name, f"{name} ({', '.join(parts)})" if parts else name, "; ".join(notes) or "no figures yet")


def describe(name_or_path: str) -> str:
    """A short label for a picker: the name, its test accuracy, and whether it has attention maps."""
    return model_info(name_or_path).label
