"""Converting MediaPipe's face networks (TFLite files inside the mediapipe 0.10.14 wheel) into ConvertedNet cards.

Why: the app wants BlazeFace and Face Mesh but must not depend on mediapipe or a TFLite runtime. Like
onnx2torch for ONNX, the TFLite graph becomes an ordered op list (JSON card) plus weights (safetensors) that
`fer_core.detection.converted_net.ConvertedNet` executes with torch alone.

Development only: parsing needs `tflite` (flatbuffer bindings), the parity check `ai-edge-litert` (the
reference runtime). Constants are folded here: DENSIFY (sparse weights of the full-range detector) and
DEQUANTIZE (float16 weights). Weights are stored in their source precision, float16 for all three nets,
which is lossless; ConvertedNet upcasts them to float32 parameters at load time.

Each card also gets an ONNX twin (`<stem>.onnx`, exported from the ConvertedNet, not from the TFLite file;
its SHA-256 in the card's `onnx` section), which `net_engine.fast_network` runs in ONNX Runtime: the
product's fast path. Exporting needs onnx and onnxscript.

face_landmark_with_attention.tflite is skipped: it needs MediaPipe's custom ops (TransformLandmarks,
TransformTensorBilinear, Landmarks2TransformMatrix), which no builtin torch op list reproduces.

Run: fer-lens convert-mediapipe mediapipe-0.10.14-....whl [--out fer_core/weights/mediapipe]
"""
from __future__ import annotations

import hashlib
import json
import re
import zipfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np
import torch
from safetensors.torch import save_file

from fer_core.detection.converted_net import ONNX_OPSET, ConvertedNet, export_onnx
from fer_core.detection.net_engine import OnnxNet
from fer_core.model.onnx_runtime import sha256_of
from fer_core.paths import REPO_DIR

WHEEL_VERSION = "0.10.14"
LICENCE = "Apache-2.0"
ATTRIBUTION = "Copyright The MediaPipe Authors (Google LLC); converted to PyTorch by FER Lens"
OUT_DIR = REPO_DIR / "fer_core" / "weights" / "mediapipe"
# Parity passes when max |converted - LiteRT| <= PARITY_TOLERANCE * max(1, range of the LiteRT output).
# Measured on real faces: about 1e-6 of the range (float32 summation order), so 1e-4 leaves a wide margin
# while still catching any real conversion error (a wrong padding or layout moves outputs by >1 % of range).
PARITY_TOLERANCE = 1e-4
ONNX_NOTE = ("exported from the ConvertedNet (converted_net.export_onnx), PReLU written as per-channel 1x1 "
             "depthwise convolutions, which ONNX Runtime keeps in its fast blocked layout; run by "
             "net_engine.fast_network, which checks sha256 first")


@dataclass(frozen=True)
class Network:
    """One supported TFLite file, and what the card says about its input and outputs."""

    stem: str
    member: str  # path inside the wheel
    input_range: tuple[float, float]
    about: str
    input_note: str
    outputs: dict[str, str]


_BLAZEFACE_OUT = ("{n} anchors x 16, in input pixels: the box centre's x, y offset from the anchor centre, the box "
                  "width and height, then 6 keypoints as x, y offsets from the anchor centre (right eye, left eye, "
                  "nose tip, mouth centre, right ear tragion, left ear tragion)")
NETWORKS: tuple[Network, ...] = (
    Network("face_detection_short_range", "mediapipe/modules/face_detection/face_detection_short_range.tflite",
            (-1.0, 1.0), "BlazeFace short range: faces within about 2 m of a front camera",
            "RGB 128x128, the whole image letterboxed (aspect kept, zero border), values (pixel - 127.5) / 127.5 "
            "(the file's TFLite metadata: mean 127.5, std 127.5)",
            {"regressors": _BLAZEFACE_OUT.format(n=896) + " (anchors: 16x16 x 2 at stride 8, 8x8 x 6 at stride 16)",
             "classificators": "896 face logits (sigmoid gives the score)"}),
    Network("face_detection_full_range_sparse",
            "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
            (-1.0, 1.0), "BlazeFace full range (sparse weights): smaller faces, up to about 5 m",
            "RGB 192x192, the whole image letterboxed (aspect kept, zero border), values (pixel - 127.5) / 127.5 "
            "(the file's TFLite metadata: mean 127.5, std 127.5)",
            {"Identity": _BLAZEFACE_OUT.format(n=2304) + " (anchors: 48x48 x 1 at stride 4)",
             "Identity_1": "2304 face logits (sigmoid gives the score)"}),
    Network("face_landmark", "mediapipe/modules/face_landmark/face_landmark.tflite",
            (0.0, 1.0), "Face Mesh: 468 3-D face landmarks from a face crop",
            "RGB 192x192 crop around one face (MediaPipe: detection box x 1.5, square, rotated upright), "
            "values pixel / 255 (the file's TFLite metadata: mean 0, std 255)",
            {"conv2d_21": "468 landmarks x (x, y, z) in input pixels; z is relative depth on the x scale",
             "conv2d_31": "face presence logit (sigmoid gives the probability that the crop holds a face)"}),
)
SKIPPED = {"face_landmark_with_attention": "it needs MediaPipe's custom ops TransformLandmarks, "
                                           "TransformTensorBilinear and Landmarks2TransformMatrix"}

# Which inputs of an op may be constants (weights or attributes); ADD / MUL / SUB take constant operands too.
_CONST_INPUTS = {"CONV_2D": {1, 2}, "DEPTHWISE_CONV_2D": {1, 2}, "PRELU": {1}, "PAD": {1}, "RESHAPE": {1},
                 "RESIZE_BILINEAR": {1}}
_ACTIVATION = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH"}
_PADDING = {0: "SAME", 1: "VALID"}
_DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 9: np.int8}


# --- reading the flatbuffer -------------------------------------------------------------------------------

def _opcode_names() -> dict[int, str]:
    from tflite.BuiltinOperator import BuiltinOperator

    return {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}


def _options(op: Any, cls_name: str) -> Any:
    import tflite

    opts = getattr(tflite, cls_name)()
    table = op.BuiltinOptions()
    opts.Init(table.Bytes, table.Pos)
    return opts


def _index_vector(kind: int, table: Any) -> np.ndarray:
    """A sparse-index vector (a flatbuffer union: int32, uint16 or uint8 values)."""
    import tflite

    cls = {1: tflite.Int32Vector, 2: tflite.Uint16Vector, 3: tflite.Uint8Vector}[kind]
    vec = cls()
    vec.Init(table.Bytes, table.Pos)
    return vec.ValuesAsNumpy().astype(np.int64)


def densify(values: np.ndarray, sparsity: Any, shape: Sequence[int]) -> np.ndarray:
    """TFLite's sparse tensor (traversal order, DENSE / SPARSE_CSR levels) as a dense array, like the
    runtime's FormatConverter; block-sparse layouts do not occur in these files and are refused."""
    if sparsity.BlockMapLength():
        raise NotImplementedError("block-sparse tensors are not supported")
    order = sparsity.TraversalOrderAsNumpy()
    coords = np.zeros((1, 0), dtype=np.int64)  # one row per element reached so far, one column per level
    prev = np.zeros(1, dtype=np.int64)  # each row's position within its level
    for level in range(sparsity.DimMetadataLength()):
        dim = sparsity.DimMetadata(level)
        if dim.Format() == 0:  # DENSE: every index 0..size-1 under every row
            size = dim.DenseSize()
            coords = np.concatenate([np.repeat(coords, size, 0), np.tile(np.arange(size), len(prev))[:, None]], 1)
            prev = (prev[:, None] * size + np.arange(size)).reshape(-1)
        else:  # SPARSE_CSR: row r owns entries segments[r] .. segments[r + 1] of the index array
            segments = _index_vector(dim.ArraySegmentsType(), dim.ArraySegments())
            indices = _index_vector(dim.ArrayIndicesType(), dim.ArrayIndices())
            counts = segments[prev + 1] - segments[prev]
            entries = np.concatenate([np.arange(segments[p], segments[p + 1]) for p in prev])
            coords = np.concatenate([np.repeat(coords, counts, 0), indices[entries][:, None]], 1)
            prev = entries
    if len(coords) != values.size:
        raise ValueError(f"sparse tensor: {values.size} values for {len(coords)} positions")
    dense = np.zeros(shape, dtype=values.dtype)
    original = np.empty_like(coords)
    original[:, order] = coords  # level i walks original dimension order[i]
    dense[tuple(original.T)] = values.reshape(-1)
    return dense


@dataclass
class _Tensor:
    name: str
    shape: list[int]
    dtype: Any
    data: np.ndarray | None  # a constant's value (dense), else None


def _tensors(model: Any, graph: Any) -> list[_Tensor]:
    out = []
    for i in range(graph.TensorsLength()):
        t = graph.Tensors(i)
        shape = [int(v) for v in t.ShapeAsNumpy()] if t.ShapeLength() else []
        dtype = _DTYPES[t.Type()]
        raw = model.Buffers(t.Buffer()).DataAsNumpy() if t.Buffer() else 0
        data = None
        if not isinstance(raw, int) and raw.size:
            data = raw.view(dtype)
            if t.Sparsity() is None:
                data = data.reshape(shape)
        out.append(_Tensor(t.Name().decode(), shape, dtype, data))
    return out


def _short_names(names: Sequence[str]) -> list[str]:
    """Readable unique names: the first of TFLite's ';'-joined fused names, without Keras' model prefixes."""
    out: list[str] = []
    seen: set[str] = set()
    for full in names:
        base = re.sub(r"^(model(_\d+)?/)+", "", full.split(";")[0]) or full
        name, k = base, 1
        while name in seen:
            k += 1
            name = f"{base}_{k}"
        seen.add(name)
        out.append(name)
    return out


def _layer_key(name: str) -> str:
    return re.sub(r"\W", "_", name)


def _nchw(array: np.ndarray) -> np.ndarray:
    """A rank-4 constant in ConvertedNet's layout (lower ranks first broadcast to rank 4, as TFLite would)."""
    array = array.reshape((1,) * (4 - array.ndim) + array.shape)
    return np.ascontiguousarray(array.transpose(0, 3, 1, 2))


def convert_tflite(data: bytes, name: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The graph (op list, inputs, outputs) and the weights (state-dict keys -> arrays) of one .tflite file."""
    import tflite

    model = tflite.Model.GetRootAsModel(data, 0)
    if model.SubgraphsLength() != 1:
        raise ValueError(f"{name}: {model.SubgraphsLength()} subgraphs; only single-graph models are supported")
    g = model.Subgraphs(0)
    tensors = _tensors(model, g)
    consts = {i: t.data for i, t in enumerate(tensors) if t.data is not None}
    opnames = _opcode_names()
    raw_ops = []
    for i in range(g.OperatorsLength()):
        op = g.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        kind = opnames.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "UNKNOWN")
        if kind == "CUSTOM":
            raise NotImplementedError(f"{name}: custom op {code.CustomCode().decode()} is not supported")
        ins = [int(v) for v in op.InputsAsNumpy()] if op.InputsLength() else []
        outs = [int(v) for v in op.OutputsAsNumpy()]
        if kind == "DENSIFY":
            src = g.Tensors(ins[0])
            consts[outs[0]] = densify(consts[ins[0]], src.Sparsity(), tensors[ins[0]].shape)
        elif kind == "DEQUANTIZE" and ins[0] in consts:
            if tensors[ins[0]].dtype != np.float16:
                raise NotImplementedError(f"{name}: only float16 DEQUANTIZE is supported")
            consts[outs[0]] = consts[ins[0]]  # kept float16: exact, upcast by ConvertedNet
        else:
            raw_ops.append((kind, op, ins, outs))

    live = [i for i in range(len(tensors)) if i not in consts]
    short = dict(zip(live, _short_names([tensors[i].name for i in live])))
    state: dict[str, np.ndarray] = {}
    ops = []
    for kind, op, ins, outs in raw_ops:
        if len(outs) != 1:
            raise NotImplementedError(f"{name}: {kind} with {len(outs)} outputs")
        out = outs[0]
        if tensors[out].dtype != np.float32:
            raise NotImplementedError(f"{name}: {kind} produces {tensors[out].dtype}, only float32 is supported")
        entry: dict[str, Any] = {"type": kind, "name": short[out], "tflite_name": tensors[out].name,
                                 "inputs": [short[i] for i in ins if i >= 0 and i not in consts],
                                 "output": short[out], "shape": tensors[out].shape}
        stray = [j for j, i in enumerate(ins) if i in consts and j not in _CONST_INPUTS.get(kind, set())]
        if stray and kind not in ("ADD", "MUL", "SUB"):
            raise NotImplementedError(f"{name}: {kind} with constant input(s) {stray} is not supported")
        key = _layer_key(short[out])
        if any(k.startswith(f"layers.{key}.") for k in state):
            raise ValueError(f"{name}: two ops would share the weights name {key!r}")
        entry.update(_op_attributes(kind, op, ins, tensors, consts, state, key, name))
        if any(k.startswith(f"layers.{key}.") for k in state):
            entry["layer"] = key
        operands = entry.pop("_operands", None)
        if operands:
            entry["inputs"] = [c or short[i] for c, i in zip(operands, ins)]
        ops.append(entry)

    def spec(i: int) -> dict[str, Any]:
        return {"name": short[i], "tflite_name": tensors[i].name, "shape": tensors[i].shape}

    graph = {"inputs": [spec(int(i)) for i in g.InputsAsNumpy()],
             "outputs": [spec(int(i)) for i in g.OutputsAsNumpy()], "ops": ops}
    return graph, state


def _op_attributes(kind: str, op: Any, ins: list[int], tensors: list[_Tensor], consts: dict[int, np.ndarray],
                   state: dict[str, np.ndarray], key: str, name: str) -> dict[str, Any]:
    """The op's attributes in TFLite's meaning; its weights go into `state` in torch's layout."""
    where = f"{name}: {kind} {tensors[ins[0]].name}"
    if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        cls = "Conv2DOptions" if kind == "CONV_2D" else "DepthwiseConv2DOptions"
        o = _options(op, cls)
        kernel = consts[ins[1]]
        in_channels = tensors[ins[0]].shape[3]
        if kind == "CONV_2D":  # OHWI -> OIHW
            state[f"layers.{key}.weight"] = np.ascontiguousarray(kernel.transpose(0, 3, 1, 2))
            groups = in_channels // kernel.shape[3]
        else:  # (1, H, W, C * M) -> (C * M, 1, H, W); output channel c * M + m, as torch's groups
            state[f"layers.{key}.weight"] = np.ascontiguousarray(kernel[0].transpose(2, 0, 1)[:, None])
            groups = in_channels
            multiplier = o.DepthMultiplier() or kernel.shape[3] // in_channels
            if kernel.shape[3] != in_channels * multiplier:
                raise ValueError(f"{where}: depth multiplier {multiplier} does not fit the kernel")
        if len(ins) > 2 and ins[2] >= 0:
            state[f"layers.{key}.bias"] = consts[ins[2]]
        return {"stride": [o.StrideH(), o.StrideW()], "dilation": [o.DilationHFactor(), o.DilationWFactor()],
                "padding": _PADDING[o.Padding()], "activation": _activation(o, where), "groups": groups}
    if kind == "PRELU":
        alpha = consts[ins[1]]
        if alpha.size != tensors[ins[0]].shape[-1] or len(tensors[ins[0]].shape) != 4:
            raise NotImplementedError(f"{where}: only per-channel PReLU alphas on rank-4 tensors are supported")
        state[f"layers.{key}.alpha"] = alpha.reshape(-1)
        return {}
    if kind == "MAX_POOL_2D":
        o = _options(op, "Pool2DOptions")
        return {"filter": [o.FilterHeight(), o.FilterWidth()], "stride": [o.StrideH(), o.StrideW()],
                "padding": _PADDING[o.Padding()], "activation": _activation(o, where)}
    if kind == "PAD":
        return {"paddings": consts[ins[1]].astype(int).tolist()}
    if kind in ("ADD", "MUL", "SUB"):
        o = _options(op, {"ADD": "AddOptions", "MUL": "MulOptions", "SUB": "SubOptions"}[kind])
        rank = len(tensors[op.Outputs(0)].shape)
        if any(i not in consts and len(tensors[i].shape) != rank for i in ins):
            raise NotImplementedError(f"{where}: broadcasting between live tensors of different ranks")
        operands: list[str | None] = []  # a constant operand's layer name, None for a live tensor
        for j, i in enumerate(ins):
            if i not in consts:
                operands.append(None)
                continue
            ckey = f"const_{key}_{j}"  # "const_" keeps operand names apart from tensor names
            value = consts[i] if consts[i].dtype == np.float16 else consts[i].astype(np.float32)
            state[f"layers.{ckey}.value"] = _nchw(value) if rank == 4 else value
            operands.append(ckey)
        return {"activation": _activation(o, where), "_operands": operands}
    if kind in ("RELU", "RELU6", "TANH", "LOGISTIC"):
        return {}
    if kind == "RESHAPE":
        out_shape, in_shape = tensors[op.Outputs(0)].shape, tensors[ins[0]].shape
        if out_shape[0] != in_shape[0]:
            raise NotImplementedError(f"{where}: reshapes across the batch dimension are not supported")
        return {}
    if kind == "CONCATENATION":
        o = _options(op, "ConcatenationOptions")
        return {"axis": o.Axis(), "activation": _activation(o, where)}
    if kind == "DEPTH_TO_SPACE":
        return {"block_size": _options(op, "DepthToSpaceOptions").BlockSize()}
    if kind == "RESIZE_BILINEAR":
        o = _options(op, "ResizeBilinearOptions")
        if o.AlignCorners() and o.HalfPixelCenters():
            raise ValueError(f"{where}: align_corners and half_pixel_centers together are invalid")
        return {"size": consts[ins[1]].astype(int).tolist(), "align_corners": bool(o.AlignCorners()),
                "half_pixel_centers": bool(o.HalfPixelCenters())}
    raise NotImplementedError(f"{where}: op {kind} is not supported")


def _activation(options: Any, where: str) -> str:
    code = options.FusedActivationFunction()
    if code not in _ACTIVATION:
        raise NotImplementedError(f"{where}: fused activation {code} is not supported")
    return _ACTIVATION[code]


# --- sources, cards, licence ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    """One supported network's bytes and where they came from."""

    network: Network
    data: bytes
    wheel: str
    version: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _dist_version(metadata: str | None) -> str:
    found = re.search(r"^Version:\s*(\S+)", metadata or "", re.MULTILINE)
    return found.group(1) if found else WHEEL_VERSION


def read_sources(wheel_or_dir: Path) -> tuple[list[Source], str | None]:
    """The supported .tflite files, and the wheel's licence text when there is one, from a wheel, an unpacked
    wheel or a folder that simply holds the .tflite files."""
    wheel_or_dir = Path(wheel_or_dir)
    found: dict[str, bytes] = {}
    if wheel_or_dir.is_file():
        with zipfile.ZipFile(wheel_or_dir) as zf:
            names = zf.namelist()
            info = r"mediapipe-[^/]+\.dist-info/(METADATA|LICENSE)"
            read = {n: zf.read(n).decode() for n in names if re.fullmatch(info, n)}
            found = {net.stem: zf.read(net.member) for net in NETWORKS if net.member in names}
        wheel = wheel_or_dir.name
        metadata = next((v for k, v in read.items() if k.endswith("/METADATA")), None)
        licence = next((v for k, v in read.items() if k.endswith("/LICENSE")), None)
    else:
        for net in NETWORKS:
            path = wheel_or_dir / net.member
            hits = [path] if path.is_file() else sorted(wheel_or_dir.rglob(f"{net.stem}.tflite"))
            if hits:
                found[net.stem] = hits[0].read_bytes()
        info = sorted(wheel_or_dir.glob("mediapipe-*.dist-info"))
        metadata = (info[0] / "METADATA").read_text() if info and (info[0] / "METADATA").is_file() else None
        licence = (info[0] / "LICENSE").read_text() if info and (info[0] / "LICENSE").is_file() else None
        wheel = f"mediapipe-{_dist_version(metadata)} (unpacked)"
    missing = [net.member for net in NETWORKS if net.stem not in found]
    if missing:
        raise FileNotFoundError(f"{wheel_or_dir} lacks {missing}")
    ver = _dist_version(metadata)
    return [Source(net, found[net.stem], wheel, ver) for net in NETWORKS], licence


def _notice(sources: Sequence[Source]) -> str:
    files = ", ".join(f"{s.network.stem}.{{json,safetensors,onnx}}" for s in sources)
    skipped = "; ".join(f"{k}.tflite, as {v}" for k, v in SKIPPED.items())
    return (f"FER Lens: MediaPipe face networks converted to PyTorch\n\n"
            f"{files} in this folder are derived from the TFLite models of the same names in the mediapipe "
            f"{sources[0].version} wheel (https://github.com/google-ai-edge/mediapipe).\n\n"
            f"{ATTRIBUTION}.\nLicensed under the Apache License, Version 2.0: see LICENSE-mediapipe.txt.\n\n"
            "Changes made: each TFLite graph was rewritten as an op list (the JSON card) for FER Lens' PyTorch "
            "runtime, sparse weights were densified and the float16 weights re-laid out for PyTorch "
            "(NCHW / OIHW); no weight value was changed. The .onnx files are that PyTorch graph exported to ONNX "
            "for ONNX Runtime (PReLU written as per-channel scales, the same weights).\n"
            f"Not converted: {skipped}.\n")


def _card_text(card: dict[str, Any]) -> str:
    """JSON with one op per line: readable and diff-friendly."""
    ops = card["graph"]["ops"]
    text = json.dumps({**card, "graph": {**card["graph"], "ops": "@OPS@"}}, indent=2)
    body = ",\n".join("      " + json.dumps(op) for op in ops)
    text = re.sub(r"\[[-\d.,e\s]*\]", lambda m: json.dumps(json.loads(m.group())), text)  # shapes on one line
    return text.replace('"@OPS@"', "[\n" + body + "\n    ]") + "\n"


def _card(source: Source, graph: dict[str, Any], state: dict[str, np.ndarray]) -> dict[str, Any]:
    net = source.network
    graph = {"name": net.stem, **graph}
    graph["inputs"][0].update(layout="NCHW (N, 3, H, W); TFLite's shape above is NHWC",
                              range=list(net.input_range), channels="RGB", note=net.input_note)
    for out in graph["outputs"]:
        out["meaning"] = net.outputs[out["name"]]
        out["layout"] = "as TFLite: the shape above"
    card = {"name": net.stem, "about": net.about, "graph": graph,
            "source": {"wheel": source.wheel, "version": source.version, "path": net.member,
                       "sha256": source.sha256},
            "licence": LICENCE, "attribution": ATTRIBUTION,
            "weights": {"file": f"{net.stem}.safetensors", "dtype": "float16 as in the source (lossless); "
                        "ConvertedNet loads them as float32 parameters",
                        "parameters": int(sum(v.size for v in state.values()))},
            "converter": "fer-lens convert-mediapipe (tflite "
                         f"{_installed('tflite')})"}
    if net.stem == "face_landmark":
        skipped = SKIPPED["face_landmark_with_attention"]
        card["notes"] = f"face_landmark_with_attention.tflite is not converted: {skipped}."
    return card


def _installed(package: str) -> str:
    try:
        return version(package)
    except Exception:  # noqa: BLE001 - a version is only reported, never required
        return "unknown"


def _licence_text(from_wheel: str | None) -> str:
    """The wheel's licence file (Apache-2.0 plus MediaPipe's third-party notices), else the committed copy."""
    if from_wheel:
        return from_wheel
    committed = OUT_DIR / "LICENSE-mediapipe.txt"
    if committed.is_file():
        return committed.read_text()
    raise FileNotFoundError("no mediapipe-*.dist-info/LICENSE found: convert from the wheel itself")


def convert(wheel_or_dir: Path, out_dir: Path = OUT_DIR,
            images: dict[str, np.ndarray] | None = None) -> list[Path]:
    """Write `<stem>.safetensors` + `<stem>.json` + its ONNX twin `<stem>.onnx` for each supported network,
    LICENSE-mediapipe.txt and NOTICE; with `images` (name -> RGB uint8 photos or frames of real faces) also
    measure the parity of the ConvertedNet and of the ONNX twin against LiteRT."""
    sources, licence = read_sources(Path(wheel_or_dir))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    cards: dict[str, dict[str, Any]] = {}
    for source in sources:
        stem = source.network.stem
        graph, state = convert_tflite(source.data, stem)
        weights = out_dir / f"{stem}.safetensors"
        save_file({k: torch.from_numpy(np.array(v)) for k, v in state.items()}, str(weights),
                  metadata={"source_sha256": source.sha256, "licence": LICENCE})
        weights.chmod(0o644)  # safetensors writes 0600; these are shipped package data
        cards[stem] = _card(source, graph, state)
        written.append(weights)
    nets = {stem: ConvertedNet(card["graph"], _load_weights(out_dir / f"{stem}.safetensors"))
            for stem, card in cards.items()}
    for stem, net in nets.items():
        twin = export_onnx(net, out_dir / f"{stem}.onnx")
        twin.chmod(0o644)
        cards[stem]["onnx"] = {"file": twin.name, "sha256": sha256_of(twin), "opset": ONNX_OPSET,
                               "exporter": f"torch {torch.__version__}, onnxscript {_installed('onnxscript')}",
                               "note": ONNX_NOTE}
        written.append(twin)
    if images:
        reference = (f"ai-edge-litert {_installed('ai-edge-litert')} (its default XNNPACK CPU delegate, "
                     "float32)")
        for source in sources:
            stem = source.network.stem
            batch = parity_inputs(stem, images, nets["face_detection_full_range_sparse"])
            report = parity(source.data, nets[stem], batch)
            cards[stem]["parity"] = {**report, "images": sorted(images), "reference": reference}
            twin = OnnxNet(out_dir / f"{stem}.onnx", cards[stem]["onnx"]["sha256"])
            cards[stem]["onnx"]["parity"] = {**parity(source.data, nets[stem], batch, engine=twin),
                                             "reference": reference}
    for stem, card in cards.items():
        path = out_dir / f"{stem}.json"
        path.write_text(_card_text(card))
        written.append(path)
    for name, text in (("LICENSE-mediapipe.txt", _licence_text(licence)), ("NOTICE", _notice(sources))):
        (out_dir / name).write_text(text)
        written.append(out_dir / name)
    return written


def _load_weights(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


# --- parity against LiteRT on real faces ------------------------------------------------------------------

def parity(tflite_bytes: bytes, net: ConvertedNet, images: np.ndarray, tolerance: float = PARITY_TOLERANCE,
           engine: Callable[[torch.Tensor], tuple[torch.Tensor, ...]] | None = None) -> dict[str, Any]:
    """Per output, max |ConvertedNet - LiteRT| over `images` (N, H, W, 3 float32 in the net's input range,
    as TFLite takes them): LiteRT one image at a time (its graph has batch 1), ours as one batch. `engine`
    (e.g. the net's OnnxNet) is measured in the ConvertedNet's place."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=tflite_bytes, num_threads=1)
    interpreter.allocate_tensors()
    source = interpreter.get_input_details()[0]["index"]
    details = {d["name"]: d["index"] for d in interpreter.get_output_details()}
    reference: dict[str, list[np.ndarray]] = {o["name"]: [] for o in net.graph["outputs"]}
    for image in images:
        interpreter.set_tensor(source, image[None].astype(np.float32))
        interpreter.invoke()
        for o in net.graph["outputs"]:
            reference[o["name"]].append(interpreter.get_tensor(details[o["tflite_name"]])[0].copy())
    run = net if engine is None else engine
    with torch.inference_mode():
        ours = run(torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).permute(0, 3, 1, 2))
    outputs: dict[str, dict[str, float]] = {}
    for name, value in zip(net.output_names, ours):
        ref = np.stack(reference[name])
        if tuple(value.shape) != ref.shape:  # broadcasting would hide a layout error
            raise ValueError(f"{name}: ConvertedNet gives {tuple(value.shape)}, LiteRT {ref.shape}")
        diff = float(np.abs(value.numpy() - ref).max())
        span = float(ref.max() - ref.min())
        outputs[name] = {"max_abs_diff": diff, "reference_range": span,
                         "allowed": tolerance * max(1.0, span)}
    return {"outputs": outputs, "count": int(len(images)), "max_abs_diff": max(o["max_abs_diff"] for o in
            outputs.values()), "tolerance": f"max_abs_diff <= {tolerance:g} x max(1, reference_range)",
            "passed": all(o["max_abs_diff"] <= o["allowed"] for o in outputs.values())}


def letterbox(rgb: np.ndarray, size: int) -> tuple[np.ndarray, float, tuple[int, int]]:
    """The whole image scaled to fit size x size, centred on black (MediaPipe's keep_aspect_ratio with a zero
    border), with the scale and the (x, y) offset that map image pixels into it."""
    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    x0, y0 = (size - nw) // 2, (size - nh) // 2
    out = np.zeros((size, size, 3), np.uint8)
    out[y0:y0 + nh, x0:x0 + nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
    return out, scale, (x0, y0)


def to_range(images: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """uint8 pixels as float32 in a network's input range."""
    low, high = value_range
    return (images.astype(np.float32) * ((high - low) / 255.0) + low).astype(np.float32)


ANCHOR_GRIDS = {896: ((16, 2), (8, 6)), 2304: ((48, 1),)}  # anchors -> (cells per side, anchors per cell)


def anchors(count: int) -> np.ndarray:
    """(count, 2) anchor centres (x, y in 0..1) in a BlazeFace output's order, as MediaPipe's
    SsdAnchorsCalculator makes them with fixed-size anchors: short range 16x16 cells x 2 then 8x8 x 6,
    full range 48x48 x 1."""
    parts = []
    for cells, per_cell in ANCHOR_GRIDS[count]:
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        centres = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], -1).reshape(-1, 2)
        parts.append(np.repeat(centres, per_cell, 0))
    return np.concatenate(parts).astype(np.float32)


def detect_face(rgb: np.ndarray, detector: ConvertedNet) -> tuple[float, np.ndarray]:
    """A BlazeFace net's most confident face: its score and box (x0, y0, x1, y1 in image pixels)."""
    side = detector.input_shape[1]
    boxed, scale, (ox, oy) = letterbox(rgb, side)
    x = torch.from_numpy(to_range(boxed[None], detector.input_range)).permute(0, 3, 1, 2)
    with torch.inference_mode():
        regressors, logits = detector(x)
    best = int(logits[0, :, 0].argmax())
    raw = regressors[0, best].numpy()
    cx, cy = anchors(regressors.shape[1])[best] * side + raw[:2]
    half = np.array([raw[2], raw[3]]) / 2
    box = np.array([cx - half[0] - ox, cy - half[1] - oy, cx + half[0] - ox, cy + half[1] - oy]) / scale
    return float(torch.sigmoid(logits[0, best, 0])), box


def face_crop(rgb: np.ndarray, box: np.ndarray, size: int = 192, grow: float = 1.5) -> np.ndarray:
    """A square size x size crop around a face box, grown as MediaPipe grows it for Face Mesh (no rotation)."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    half = grow * max(box[2] - box[0], box[3] - box[1]) / 2
    s = size / (2 * half)
    matrix = np.array([[s, 0, size / 2 - s * cx], [0, s, size / 2 - s * cy]], np.float32)
    return cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))


def parity_inputs(stem: str, images: dict[str, np.ndarray], detector: ConvertedNet) -> np.ndarray:
    """(N, H, W, 3) float32 inputs for one network: detectors see whole letterboxed images, Face Mesh a
    crop around the face that `detector` finds (the full-range one also finds the small faces of a group)."""
    net = next(n for n in NETWORKS if n.stem == stem)
    if stem == "face_landmark":
        crops = [face_crop(rgb, detect_face(rgb, detector)[1]) for rgb in images.values()]
    else:
        side = 128 if stem == "face_detection_short_range" else 192
        crops = [letterbox(rgb, side)[0] for rgb in images.values()]
    return to_range(np.stack(crops), net.input_range)


PARITY_PHOTOS = ("faceapi_happy.jpg", "faceapi_sad.jpg", "faceapi_surprised.jpg", "faceapi_bbt1.jpg")
PARITY_VIDEO = ("liveportrait_d3.mp4", (0, 100, 200))


def media_images(media: Path) -> dict[str, np.ndarray]:
    """Real faces from the shared media folder: named RGB photos and frames of one clip (PyAV); {} if absent."""
    import av

    out: dict[str, np.ndarray] = {}
    for name in PARITY_PHOTOS:
        bgr = cv2.imread(str(media / "photos" / name), cv2.IMREAD_COLOR)
        if bgr is not None:
            out[name] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    clip, frames = PARITY_VIDEO
    if (media / "videos" / clip).is_file():
        with av.open(str(media / "videos" / clip)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if i in frames:
                    out[f"{clip}#{i}"] = frame.to_ndarray(format="rgb24")
                if i >= max(frames):
                    break
    return out
