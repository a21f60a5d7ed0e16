"""A network converted from a TFLite flatbuffer, run by PyTorch alone from a declarative op list.

Why: MediaPipe's face networks (BlazeFace, Face Mesh) ship only as .tflite files. The development script
`fer_core.training.convert_mediapipe` turns each one, once, into an ordered op list (the `graph` section of a
JSON card) plus weights (safetensors); this module executes that list with torch ops, so the product needs
neither mediapipe nor a TFLite runtime, and every weight is an nn.Parameter that can be fine-tuned later.

Layout: TFLite is NHWC. Here every rank-4 tensor is held NCHW (torch's convolution layout) and every other
rank exactly as TFLite has it. Kernels were permuted to torch's layout at conversion time; the op attributes
in the graph keep TFLite's meaning (NHWC axes and paddings) and are mapped here. A reshape or concatenation
of rank-4 tensors goes through NHWC, so flattened outputs keep TFLite's element order.

Input: (N, 3, H, W) float32 RGB in the range the card states (`graph.inputs[0].range`: [-1, 1] for
BlazeFace, [0, 1] for Face Mesh). `forward` returns the graph outputs in TFLite's order, shape and layout
(NHWC for rank 4); `forward(x, keep=names)` returns a dict that adds the named intermediate tensors as held
(NCHW for feature maps). Names are the card's short tensor names or the full TFLite ones.

Speed: inference runs the card's ONNX twin (`<stem>.onnx`, exported from this module by `export_onnx`) in
ONNX Runtime through `net_engine.fast_network`, about 2-3x faster than this torch interpreter on a CPU and
without importing torch; ConvertedNet is the fallback there, and the reference (parity tests, `keep`,
fine-tuning).
"""
from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

NHWC_TO_NCHW_AXIS = (0, 2, 3, 1)  # TFLite axis a of a rank-4 tensor is axis NHWC_TO_NCHW_AXIS[a] here
NCHW_FROM_NHWC = (0, 3, 1, 2)  # and our axis d is TFLite's axis NCHW_FROM_NHWC[d]
ONNX_OPSET = 18

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "NONE": lambda x: x,
    "RELU": F.relu,
    "RELU6": F.relu6,
    "RELU_N1_TO_1": lambda x: x.clamp(-1.0, 1.0),
    "TANH": torch.tanh,
}


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """(before, after) padding of TFLite's SAME: the odd pixel goes after, as in ComputePaddingWithOffset."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _spatial_pads(x: torch.Tensor, op: dict[str, Any], kernel: tuple[int, int]) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) for an NCHW input under the op's padding mode."""
    if op["padding"] == "VALID":
        return 0, 0, 0, 0
    (sh, sw), (dh, dw) = op["stride"], op.get("dilation", (1, 1))
    top, bottom = same_padding(x.shape[2], kernel[0], sh, dh)
    left, right = same_padding(x.shape[3], kernel[1], sw, dw)
    return left, right, top, bottom


def _conv(x: torch.Tensor, layer: nn.Module, op: dict[str, Any], groups: int) -> torch.Tensor:
    weight = layer.weight
    # "fused_pad": the zero PAD that fed this VALID conv, folded in at load time (see ConvertedNet._plan)
    left, right, top, bottom = op.get("fused_pad") or _spatial_pads(x, op, tuple(weight.shape[-2:]))
    padding: tuple[int, int] = (top, left)
    if left != right or top != bottom:  # TFLite's asymmetric SAME: pad explicitly, torch pads symmetrically
        x, padding = F.pad(x, (left, right, top, bottom)), (0, 0)
    bias = getattr(layer, "bias", None)
    y = F.conv2d(x, weight, bias, tuple(op["stride"]), padding, tuple(op.get("dilation", (1, 1))), groups)
    return ACTIVATIONS[op["activation"]](y)


def _max_pool(x: torch.Tensor, op: dict[str, Any]) -> torch.Tensor:
    kernel = tuple(op["filter"])
    left, right, top, bottom = _spatial_pads(x, op, kernel)
    if left or right or top or bottom:  # TFLite ignores padded cells: pad with -inf, not zeros
        x = F.pad(x, (left, right, top, bottom), value=-math.inf)
    return ACTIVATIONS[op["activation"]](F.max_pool2d(x, kernel, tuple(op["stride"])))


def _pad(x: torch.Tensor, op: dict[str, Any]) -> torch.Tensor:
    pads = op["paddings"]  # TFLite order: one (before, after) per dimension
    if x.dim() == 4:
        pads = [pads[i] for i in NCHW_FROM_NHWC]
    flat = [p for pair in reversed(pads) for p in pair]  # F.pad wants the last dimension first
    return F.pad(x, flat)


def _reshape(x: torch.Tensor, op: dict[str, Any]) -> torch.Tensor:
    if x.dim() == 4:
        x = x.permute(0, 2, 3, 1)
    y = x.reshape(x.shape[0], *op["shape"][1:])  # the batch stays first; TFLite's shape says the rest
    return y.permute(0, 3, 1, 2) if y.dim() == 4 else y


def _concat(xs: list[torch.Tensor], op: dict[str, Any]) -> torch.Tensor:
    axis = op["axis"] % xs[0].dim()
    if xs[0].dim() == 4:
        axis = NHWC_TO_NCHW_AXIS[axis]
    return ACTIVATIONS[op["activation"]](torch.cat(xs, axis))


def _depth_to_space(x: torch.Tensor, op: dict[str, Any]) -> torch.Tensor:
    """TFLite's (TensorFlow's) DCR order, channel = (i * block + j) * C + c; torch.pixel_shuffle is CRD."""
    b = op["block_size"]
    n, ch, h, w = x.shape
    c = ch // (b * b)
    nhwc = x.permute(0, 2, 3, 1).reshape(n, h, w, b, b, c)
    return nhwc.permute(0, 1, 3, 2, 4, 5).reshape(n, h * b, w * b, c).permute(0, 3, 1, 2)


def _legacy_axis(n_in: int, n_out: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    src = torch.arange(n_out, dtype=torch.float32, device=device) * (n_in / n_out)
    lo = src.floor()
    hi = torch.minimum(src.ceil(), torch.tensor(n_in - 1.0, device=device))
    return lo.long(), hi.long(), src - lo


def _resize_bilinear(x: torch.Tensor, op: dict[str, Any], for_onnx: bool = False) -> torch.Tensor:
    size = tuple(op["size"])
    if op["half_pixel_centers"]:  # TFLite's (y + 0.5) * scale - 0.5, clamped at 0: what torch computes
        factor = (size[0] // x.shape[2], size[1] // x.shape[3])
        if for_onnx and (x.shape[2] * factor[0], x.shape[3] * factor[1]) == size:
            # the same sampling; constant scales, unlike sizes, need no Shape ops for the batch and let ONNX
            # Runtime run the resize in its blocked conv layout (3x faster in the full-range detector)
            return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    if op["align_corners"]:
        return F.interpolate(x, size=size, mode="bilinear", align_corners=True)
    # TF1's legacy sampling, src = dst * scale, has no torch mode: interpolate rows, then columns.
    y0, y1, fy = _legacy_axis(x.shape[2], size[0], x.device)
    x0, x1, fx = _legacy_axis(x.shape[3], size[1], x.device)
    fy = fy.view(1, 1, -1, 1)
    rows = x[:, :, y0] * (1 - fy) + x[:, :, y1] * fy
    return rows[..., x0] * (1 - fx) + rows[..., x1] * fx


def _channel_scale(x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """x * scale per channel, written as a 1x1 depthwise convolution."""
    return F.conv2d(x, scale.reshape(-1, 1, 1, 1), groups=x.shape[1])


def _prelu(x: torch.Tensor, alpha: torch.Tensor, for_onnx: bool) -> torch.Tensor:
    """PReLU; for ONNX as (1 - alpha) * relu(x) + alpha * x with the scales as 1x1 depthwise convs. Why: ONNX
    Runtime's PRelu is a generic broadcast kernel outside its blocked (NCHWc) conv layout, so each of the Face
    Mesh's 23 PReLUs cost a slow pass plus two layout reorders (3.9 ms a mesh, 1.1 ms this way); convs, relu
    and the add they fuse into stay blocked. Equal to PReLU up to float rounding (a few ulp)."""
    if not for_onnx:
        return F.prelu(x, alpha)
    return _channel_scale(F.relu(x), 1 - alpha) + _channel_scale(x, alpha)


def _run_op(net: ConvertedNet, op: dict[str, Any], xs: list[torch.Tensor], for_onnx: bool = False) -> torch.Tensor:
    """One op of the list on torch tensors (operand constants arrive in `xs` like activations); `for_onnx`
    picks the forms that ONNX Runtime runs fast, for export."""
    kind = op["type"]
    layer = net.layers[op["layer"]] if "layer" in op else None
    if kind == "CONV_2D":
        return _conv(xs[0], layer, op, groups=1)
    if kind == "DEPTHWISE_CONV_2D":
        return _conv(xs[0], layer, op, groups=op["groups"])
    if kind == "PRELU":
        return _prelu(xs[0], layer.alpha, for_onnx)
    if kind == "MAX_POOL_2D":
        return _max_pool(xs[0], op)
    if kind == "PAD":
        return _pad(xs[0], op)
    if kind in ("ADD", "MUL", "SUB"):
        fn = {"ADD": torch.add, "MUL": torch.mul, "SUB": torch.sub}[kind]
        return ACTIVATIONS[op["activation"]](fn(xs[0], xs[1]))
    if kind in ("RELU", "RELU6", "TANH"):
        return ACTIVATIONS[kind](xs[0])
    if kind == "LOGISTIC":
        return torch.sigmoid(xs[0])
    if kind == "RESHAPE":
        return _reshape(xs[0], op)
    if kind == "CONCATENATION":
        return _concat(xs, op)
    if kind == "DEPTH_TO_SPACE":
        return _depth_to_space(xs[0], op)
    if kind == "RESIZE_BILINEAR":
        return _resize_bilinear(xs[0], op, for_onnx)
    raise NotImplementedError(f"op {kind} ({op['name']}) is not supported by ConvertedNet")


class _Tensors(nn.Module):
    """The trainable tensors of one op (weight, bias, alpha, value) under the op's name."""

    def __init__(self, tensors: dict[str, torch.Tensor]) -> None:
        super().__init__()
        for name, value in tensors.items():
            self.register_parameter(name, nn.Parameter(value.float(), requires_grad=False))


class ConvertedNet(nn.Module):
    """Executes a converted graph (see the module docstring) in eval mode, gradients off until asked for."""

    def __init__(self, graph: dict[str, Any], state: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.graph = graph
        self.card: dict[str, Any] = {"graph": graph}  # the whole card when loaded from one
        groups: dict[str, dict[str, torch.Tensor]] = {}
        for key, value in state.items():
            prefix, layer, param = key.split(".")
            if prefix != "layers":
                raise KeyError(f"unexpected tensor {key!r}: keys are layers.<op>.<tensor>")
            groups.setdefault(layer, {})[param] = value
        self.layers = nn.ModuleDict({name: _Tensors(tensors) for name, tensors in groups.items()})
        spec = graph["inputs"][0]
        self.input_name: str = spec["name"]
        self.input_shape = tuple(spec["shape"])  # TFLite's NHWC
        self.output_names: tuple[str, ...] = tuple(o["name"] for o in graph["outputs"])
        self._ops = self._plan(graph["ops"])
        self._alias = {op["tflite_name"]: op["output"] for op in self._ops if "tflite_name" in op}
        self._alias.update({o["tflite_name"]: o["name"] for o in graph["outputs"] + graph["inputs"]
                            if "tflite_name" in o})
        self._drop = self._liveness()
        self.eval()

    @classmethod
    def load(cls, path: str | Path) -> ConvertedNet:
        """The net from `<path>.safetensors` and its card `<path>.json` (safetensors only: no pickle)."""
        path = Path(path)
        if path.suffix in (".json", ".safetensors"):
            path = path.with_suffix("")
        card = json.loads(path.with_name(path.name + ".json").read_text())
        net = cls(card["graph"], load_file(str(path.with_name(path.name + ".safetensors"))))
        net.card = card
        return net

    @property
    def input_range(self) -> tuple[float, float]:
        """The value range the network was trained on, e.g. (-1.0, 1.0) for BlazeFace."""
        low, high = self.graph["inputs"][0]["range"]
        return float(low), float(high)

    @property
    def tensor_names(self) -> list[str]:
        """Every intermediate tensor's short name, in execution order (what `keep` accepts)."""
        return [op["output"] for op in self._ops]

    def _plan(self, ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The ops to execute: each zero PAD of H and W whose only reader is a VALID convolution becomes that
        convolution's padding (the full-range detector has 43 of them), marked "fused" and run only when kept.
        The graph itself stays as converted."""
        readers = Counter(name for op in ops for name in op["inputs"])
        made_by = {op["output"]: op for op in ops}
        planned = [dict(op) for op in ops]
        for op in planned:
            pad = made_by.get(op["inputs"][0]) if op["inputs"] else None
            if (op["type"] not in ("CONV_2D", "DEPTHWISE_CONV_2D") or op["padding"] != "VALID" or pad is None
                    or pad["type"] != "PAD" or readers[pad["output"]] != 1 or pad["output"] in self.output_names):
                continue
            (n0, n1), (top, bottom), (left, right), (c0, c1) = pad["paddings"]
            if n0 or n1 or c0 or c1:
                continue
            op["inputs"] = [pad["inputs"][0], *op["inputs"][1:]]
            op["fused_pad"] = (left, right, top, bottom)
            next(p for p in planned if p["output"] == pad["output"])["fused"] = True
        return planned

    def _liveness(self) -> list[tuple[str, ...]]:
        """Per op, the tensors whose last reader it is: freed after it runs, so inference stays lean."""
        last: dict[str, int] = {}
        for i, op in enumerate(self._ops):
            for name in op["inputs"]:
                last[name] = i
        drop: list[list[str]] = [[] for _ in self._ops]
        for name, i in last.items():
            if name not in self.output_names:
                drop[i].append(name)
        return [tuple(d) for d in drop]

    def _resolve(self, keep: Iterable[str]) -> list[str]:
        known = set(self.tensor_names) | {self.input_name}
        names = [self._alias.get(name, name) for name in keep]
        missing = [name for name in names if name not in known]
        if missing:
            raise KeyError(f"no tensor named {missing} in {self.graph.get('name', 'this graph')}")
        return names

    def forward(self, x: torch.Tensor, keep: Iterable[str] | None = None, for_onnx: bool = False
                ) -> tuple[torch.Tensor, ...] | dict[str, torch.Tensor]:
        """The graph outputs as a tuple, or with `keep` a dict of the kept tensors plus the outputs;
        `for_onnx` (export only) traces the forms ONNX Runtime runs fast, see `_prelu`."""
        _, height, width, channels = self.input_shape
        if x.dim() != 4 or tuple(x.shape[1:]) != (channels, height, width):
            raise ValueError(f"expected input (N, {channels}, {height}, {width}), got {tuple(x.shape)}")
        kept = self._resolve(keep) if keep is not None else []
        # channels_last strides (shape stays NCHW): torch's CPU depthwise convs and pools run several times
        # faster on them, and they are TFLite's own memory order.
        env: dict[str, torch.Tensor] = {self.input_name: x.float().contiguous(memory_format=torch.channels_last)}
        for op, drop in zip(self._ops, self._drop):
            if op.get("fused") and op["output"] not in kept:
                continue
            xs = [env[name] if name in env else self.layers[name].value for name in op["inputs"]]
            env[op["output"]] = _run_op(self, op, xs, for_onnx)
            for name in drop:
                if name not in kept:
                    env.pop(name, None)
        outputs = tuple(env[n].permute(0, 2, 3, 1) if env[n].dim() == 4 else env[n] for n in self.output_names)
        if keep is None:
            return outputs
        return {name: env[name] for name in kept} | dict(zip(self.output_names, outputs))


# --- the ONNX twin: export (development) and the fast engine (inference) ----------------------------------

class _ExportForm(nn.Module):
    """The net as torch.onnx sees it: a plain forward (the exporter cannot take the `graph` dict attribute)
    in the ONNX-friendly op forms."""

    def __init__(self, net: ConvertedNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.net(x, for_onnx=True)


def export_onnx(net: ConvertedNet, path: str | Path, opset: int = ONNX_OPSET) -> Path:
    """Write `net` as ONNX (input "input", outputs "<card name>:0", any batch size) and return the path.

    torch's dynamo exporter with its optimizer folds the asymmetric SAME pads into the convs and every shape
    computation into constants. The file is then made lean and reproducible: no per-node metadata (stack
    traces name the checkout's paths), and weights that float16 holds exactly (all of MediaPipe's) stored as
    float16 behind a Cast that ONNX Runtime folds at load time, so the file is about the safetensors' size.
    Needs the development packages onnx and onnxscript."""
    import onnx

    _, height, width, channels = net.input_shape
    batch = torch.export.Dim("batch", min=1, max=4096)
    with torch.no_grad():
        program = torch.onnx.export(_ExportForm(net).eval(), (torch.zeros(2, channels, height, width),),
                                    dynamo=True, opset_version=opset, input_names=["input"],
                                    output_names=[f"{name}:0" for name in net.output_names],
                                    dynamic_shapes=({0: batch},), optimize=True, verbose=False)
    model = _lean(program.model_proto)
    onnx.checker.check_model(model)
    path = Path(path)
    path.write_bytes(model.SerializeToString())
    return path


def _lean(model: Any) -> Any:
    """The exported ModelProto without metadata and doc strings, exact float16 weights stored as float16."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    del model.metadata_props[:], graph.value_info[:]
    model.doc_string = graph.doc_string = ""
    for item in [*graph.node, *graph.input, *graph.output, *graph.initializer]:
        del item.metadata_props[:]
        item.doc_string = ""
    casts = []
    for init in graph.initializer:
        value, name = numpy_helper.to_array(init), init.name
        half = value.astype(np.float16)
        if init.data_type != TensorProto.FLOAT or value.size < 16 or not np.array_equal(half, value):
            continue
        init.CopyFrom(numpy_helper.from_array(half, f"{name}:fp16"))
        casts.append(helper.make_node("Cast", [f"{name}:fp16"], [name], to=TensorProto.FLOAT))
    nodes = [*casts, *graph.node]  # the casts before every reader: the node list stays topologically sorted
    del graph.node[:]
    graph.node.extend(nodes)
    return model
