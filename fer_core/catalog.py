"""Which models are installed, read from the weights folder and the JSON model cards only (no torch), so
the app's sidebar can list them before any model is loaded."""
from __future__ import annotations

import json
import os
from pathlib import Path

BUILTIN_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_MODEL = "fer-resnet10t-v2"


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


INT8_SUFFIX = "-int8"


def int8_twin(name: str) -> str | None:
    """The shipped int8 ONNX export of a built-in model (what the live Webcam stream runs), if any."""
    if name.endswith(INT8_SUFFIX):
        return None
    twin = f"{name}{INT8_SUFFIX}"
    return twin if (BUILTIN_DIR / f"{twin}.onnx").exists() else None


def describe(name_or_path: str) -> str:
    """A short label for a picker: the name, its test accuracy, and whether it has attention maps."""
    path = Path(name_or_path)
    card_path = (path.with_suffix(".json") if path.suffix in (".safetensors", ".onnx", ".json")
                 else BUILTIN_DIR / f"{name_or_path}.json")
    try:
        card = json.loads(card_path.read_text())
    except (OSError, ValueError):
        return path.stem or str(name_or_path)
    parts = []
    accuracy = (card.get("metrics_test") or {}).get("accuracy")
    if accuracy is not None:
        parts.append(f"{accuracy:.1%}")
    if card.get("attention"):
        parts.append("attention")
    if "int8" in (card.get("runtime") or {}).get("quantization", ""):
        parts.append("int8, fastest")
    name = card.get("name", path.stem)
    return f"{name} ({', '.join(parts)})" if parts else name
