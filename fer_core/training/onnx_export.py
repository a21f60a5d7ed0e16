"""Export a built-in (safetensors) model to ONNX, optionally int8-quantised, with its own model card.

int8 uses ONNX Runtime's static quantisation (QDQ, per-channel weights): activation ranges are calibrated
on FER2013Train faces only, so FER2013Valid and FER2013Test stay untouched for selection and measurement.
The exported card starts without measured figures; `evaluate`, `bench`, `uncertainty` ... `--write-card`
fill them in for the exported model itself.
"""
from __future__ import annotations

import copy
import datetime as _dt
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fer_core.model.catalog import BUILTIN_DIR
from fer_core.model.checkpoint import LoadedModel, load_model
from fer_core.model.onnx_runtime import OnnxClassifier, sha256_of
from fer_core.model.preprocess import prepare_batch

OPSET = 18
# Sections that hold figures measured on the source model: the exported card must earn its own.
MEASURED_SECTIONS = ("metrics", "metrics_test", "metrics_valid", "latency", "generalisation", "explain_bench",
                     "robustness", "uncertainty", "commands")


def _calibration_batches(data: str | Path, spec, faces: int, seed: int = 0) -> list[np.ndarray]:
    """`faces` FER2013Train crops, stratified by class so rare expressions shape the ranges too."""
    from fer_core.training.data import load_dataset

    ds = load_dataset(data, "auto", "train", spec.source_size, cache_dir=Path(".cache/data"))
    rng = np.random.default_rng(seed)
    per_class = max(1, faces // len(spec.labels))
    idx = np.concatenate([rng.permutation(np.flatnonzero(ds.labels == c))[:per_class]
                          for c in range(len(spec.labels))])
    rng.shuffle(idx)
    batch = prepare_batch(ds.images[idx], spec).numpy()
    return [batch[i:i + 64] for i in range(0, len(batch), 64)]


def _export_form(model: torch.nn.Module) -> torch.nn.Module:
    """The model as exported: converted-graph segments (the Face Mesh backbone) switched to the op forms that
    ONNX Runtime runs fast (see converted_net._prelu), on a copy; the shared model is never changed."""
    if not any(hasattr(m, "onnx_forms") for m in model.modules()):
        return model
    twin = copy.deepcopy(model)
    for m in twin.modules():
        if hasattr(m, "onnx_forms"):
            m.onnx_forms = True
    return twin


def _export_fp32(loaded: LoadedModel, path: Path) -> None:
    spec = loaded.spec
    example = torch.zeros(2, spec.in_chans, spec.input_size, spec.input_size)
    batch = torch.export.Dim("batch", min=1, max=4096)
    torch.onnx.export(_export_form(loaded.model), (example,), str(path), input_names=["input"], output_names=["logits"],
                      dynamic_shapes={"x": {0: batch}}, dynamo=True, opset_version=OPSET, verbose=False,
                      external_data=False)  # one self-contained file, whose checksum covers every weight


def _quantize_int8(fp32: Path, out: Path, batches: list[np.ndarray]) -> None:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            b = next(self.batches, None)
            return None if b is None else {"input": b}

    prepared = fp32.with_name(fp32.stem + "-prepared.onnx")
    quant_pre_process(str(fp32), str(prepared))
    # reduce_range: 7-bit weights. CPUs without VNNI (AVX2-only, e.g. many AMD EPYC/Ryzen before Zen 4) sum
    # uint8 x int8 products pairwise in int16, which saturates with full 8-bit weights: there the 8-bit
    # v2 graph kept v2's top class on only 95.5% of test faces (83.47% -> 82.34% accuracy); with 7-bit
    # weights no pair can overflow, on any CPU.
    quantize_static(str(prepared), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    reduce_range=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)


def _agreement(loaded: LoadedModel, onnx_path: Path, batches: list[np.ndarray]) -> dict[str, float]:
    """How closely the graph reproduces the torch model on the calibration faces (a sanity check)."""
    x = torch.from_numpy(np.concatenate(batches))
    with torch.inference_mode():
        ref = loaded.model(x).float()
    got = OnnxClassifier(onnx_path)(x)
    return {"faces": int(len(x)), "top1_agreement": float((ref.argmax(1) == got.argmax(1)).float().mean()),
            "max_abs_logit_diff": float((ref - got).abs().max())}


def export_onnx(model: str | None = None, out_dir: str | Path = BUILTIN_DIR, int8: bool = False,
                data: str | Path | None = None, calibration_faces: int = 512, command: str = "") -> Path:
    """Write `<name>[-int8].onnx` and its card into `out_dir`; return the .onnx path."""
    loaded = load_model(model, graph_twin=False)
    if loaded.path is None or loaded.path.suffix != ".safetensors":
        raise ValueError("export starts from a safetensors model (a built-in name or a .safetensors path)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"{loaded.name}-{'int8' if int8 else 'onnx'}"
    out = out_dir / f"{name}.onnx"
    if data is None:
        from fer_core.paths import shared_dir

        data = shared_dir() / "data" / "ferplus"
    batches = _calibration_batches(data, loaded.spec, calibration_faces) if int8 or Path(data).exists() else []
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        _export_fp32(loaded, fp32)
        if int8:
            _quantize_int8(fp32, out, batches)
        else:
            out.write_bytes(fp32.read_bytes())
    runtime: dict[str, Any] = {
        "engine": "onnxruntime", "file": out.name, "sha256": sha256_of(out), "opset": OPSET,
        "exported": _dt.date.today().isoformat(),  # the card's `date` stays the reference's training date
        "reference_model": loaded.name,
        "reference_note": "explanations (which need gradients) are computed on the reference model; "
                          "classification uses this graph",
        "quantization": ("static int8 (ONNX Runtime QDQ): per-channel int8 weights in 7 bits (reduce_range, "
                         "so CPUs without VNNI cannot saturate), uint8 activations "
                         f"calibrated on {sum(len(b) for b in batches)} class-stratified FER2013Train faces"
                         if int8 else "none (float32)"),
    }
    if batches:
        runtime["agreement_with_reference"] = _agreement(loaded, out, batches)
    card = {k: v for k, v in loaded.card.items() if k not in MEASURED_SECTIONS}
    card.update(name=name, runtime=runtime, export_command=command,
                spec=loaded.card.get("spec", loaded.spec.to_json()))
    out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    return out


# --- the graph twin: the network's ONNX graph alone, its weights read from the safetensors file at load time ---

def _zero_constant_chain(name: str, producers: dict[str, Any]) -> bool:
    """Whether tensor `name` is computed only from zero constants (shape and type ops between): the
    convolution bias torch's exporter synthesises for a bias-free Conv."""
    from onnx import numpy_helper

    node = producers.get(name)
    if node is None:
        return False
    if node.op_type == "Constant":
        value = next((a.t for a in node.attribute if a.name == "value"), None)
        return value is not None and not numpy_helper.to_array(value).any()
    if node.op_type not in ("Expand", "CastLike", "Cast", "Shape", "Reshape"):
        return False
    data = node.input[0]  # the value; later inputs are shapes or type templates
    return _zero_constant_chain(data, producers)


def _graph_only(model: Any, weights_file: str) -> Any:
    """The exported graph with synthesised zero biases dropped, dead nodes pruned and every initializer
    declared external (float32, in `weights_file`): GraphClassifier supplies their values."""
    from onnx import TensorProto

    graph = model.graph
    producers = {out: node for node in graph.node for out in node.output}
    for node in graph.node:
        if node.op_type == "Conv" and len(node.input) == 3 and _zero_constant_chain(node.input[2], producers):
            del node.input[2]
    needed = {o.name for o in graph.output}
    kept = []
    for node in reversed(graph.node):
        if any(out in needed for out in node.output):
            kept.append(node)
            needed.update(i for i in node.input if i)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    del model.metadata_props[:], graph.value_info[:]
    model.doc_string = ""
    graph.doc_string = f"weights: {weights_file}, supplied at load time by fer_core.model.graph_twin"
    for item in [*graph.node, *graph.input, *graph.output]:
        del item.metadata_props[:]
        item.doc_string = ""
    for init in graph.initializer:
        name, dims = init.name, list(init.dims)
        init.Clear()
        init.name, init.data_type, init.data_location = name, TensorProto.FLOAT, TensorProto.EXTERNAL
        init.dims.extend(dims)
        entry = init.external_data.add()
        entry.key, entry.value = "location", weights_file
    return model


def export_graph_twin(model: str | None = None, command: str = "") -> Path:
    """Write `graphs/<name>.onnx` beside a safetensors model and record it (with both files' SHA-256 and its
    agreement with torch) in the model's card as `graph_twin`; return the graph's path."""
    import onnx

    from fer_core.model.checkpoint import update_card
    from fer_core.model.graph_twin import GRAPHS_DIR, GraphClassifier

    loaded = load_model(model, graph_twin=False)
    if loaded.path is None or loaded.path.suffix != ".safetensors":
        raise ValueError("a graph twin is made for a safetensors model (a built-in name or a .safetensors path)")
    spec = loaded.spec
    example = torch.zeros(2, spec.in_chans, spec.input_size, spec.input_size)
    batch = torch.export.Dim("batch", min=1, max=4096)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.onnx"
        # optimize=False: the optimiser would fold batch norm into new weights, which the safetensors file lacks
        torch.onnx.export(loaded.model, (example,), str(raw), input_names=["input"], output_names=["logits"],
                          dynamic_shapes={"x": {0: batch}}, dynamo=True, opset_version=OPSET, verbose=False,
                          external_data=False, optimize=False)
        proto = _graph_only(onnx.load(str(raw)), loaded.path.name)
    declared = {i.name: tuple(i.dims) for i in proto.graph.initializer}
    state = {k: tuple(v.shape) for k, v in loaded.model.state_dict().items() if v.dtype.is_floating_point}
    if declared != state:
        raise ValueError(f"the graph's weights do not match the checkpoint's: {sorted(set(declared) ^ set(state))[:5]}")
    out = loaded.path.parent / GRAPHS_DIR / f"{loaded.path.stem}.onnx"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(proto.SerializeToString())
    twin = {"file": f"{GRAPHS_DIR}/{out.name}", "sha256": sha256_of(out), "weights_sha256": sha256_of(loaded.path),
            "opset": OPSET, "exported": _dt.date.today().isoformat(),
            "note": "the network's ONNX graph alone; ONNX Runtime takes its weights from the safetensors file "
                    "(fer_core/model/graph_twin.py), so the first label needs no torch"}
    x = np.random.default_rng(0).normal(0.0, 1.0, (64, spec.in_chans, spec.input_size, spec.input_size))
    x = x.astype(np.float32)
    with torch.inference_mode():
        ref = loaded.model(torch.from_numpy(x)).numpy()
    got = GraphClassifier(loaded.path, twin)(x)
    twin["agreement_with_reference"] = {"inputs": len(x), "max_abs_logit_diff": float(np.abs(got - ref).max()),
                                        "top1_agreement": float((got.argmax(1) == ref.argmax(1)).mean())}
    update_card(loaded.path, "graph_twin", twin, command)
    return out
