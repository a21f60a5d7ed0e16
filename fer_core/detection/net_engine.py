"""The converted face networks as recognition runs them: their ONNX twins in ONNX Runtime, on numpy arrays.

Why a module of its own, without torch: the face finder and the Face Mesh are on the way to the first label,
and importing torch costs over a second of a cold start on 2 cores. Torch is imported only when there is no
ONNX Runtime or no twin, and the torch `ConvertedNet` (converted_net.py) has to run instead.

A twin is `<stem>.onnx` beside the net's card, exported by `converted_net.export_onnx` and checked against the
SHA-256 in the card before it is loaded; a twin that fails the check is an error, never a reason to fall back.
"""
from __future__ import annotations

import importlib.util
import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np

if TYPE_CHECKING:
    from fer_core.detection.converted_net import ConvertedNet

Engine = Union["OnnxNet", "ConvertedNet"]  # what fast_network returns; `run_engine` calls either on numpy


class OnnxNet:
    """A converted net's ONNX twin in ONNX Runtime: (N, 3, H, W) float32 in, the TFLite outputs (shape, order,
    NHWC for rank 4) out. `run` takes and gives numpy arrays; calling it with a torch tensor gives torch
    tensors, as ConvertedNet does (parity tests, conversion). One session serves every thread (ONNX Runtime's
    `run` is safe to call concurrently); it is built from bytes that matched the card's SHA-256, never re-read.

    Threads: 1 intra-op thread by default. Measured on 2 cores, a second thread slows a single image of the
    short-range detector or the mesh by 15-30 % (each op is too short to split), gains 9 % on the full-range
    detector alone, and inside the app's pipeline made 4 meshes slower: 8.3 ms instead of 6.5 ms."""

    def __init__(self, path: str | Path, sha256: str, threads: int = 1) -> None:
        import onnxruntime as ort

        from fer_core.model.onnx_runtime import verified_bytes

        self.path = Path(path)
        model = verified_bytes(self.path, sha256, "re-create it with "
                               "`python -m fer_core.training.convert_mediapipe <mediapipe wheel>`")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle workers must not spin
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        spec = self.session.get_inputs()[0]
        self.input_name: str = spec.name
        self.input_chw = tuple(int(d) for d in spec.shape[1:])

    def run(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        """(N, C, H, W) float32 -> the net's outputs as float32 arrays."""
        if x.ndim != 4 or tuple(x.shape[1:]) != self.input_chw:
            raise ValueError(f"expected input (N, {', '.join(map(str, self.input_chw))}), got {tuple(x.shape)}")
        return tuple(self.session.run(None, {self.input_name: np.ascontiguousarray(x, dtype=np.float32)}))

    def __call__(self, x: Any) -> tuple[Any, ...]:
        """Torch tensors in and out, like ConvertedNet."""
        import torch

        return tuple(torch.from_numpy(o) for o in self.run(x.detach().cpu().float().numpy()))


def run_engine(engine: Engine, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """The engine's outputs for a float32 NCHW batch, as numpy arrays, whichever kind it is."""
    if isinstance(engine, OnnxNet):
        return engine.run(x)
    import torch

    with torch.inference_mode():
        return tuple(o.numpy() for o in engine(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))))


def _stem(path: str | Path) -> Path:
    path = Path(path)
    return path.with_suffix("") if path.suffix in (".json", ".safetensors", ".onnx") else path


def load_engine(path: str | Path, use_onnx: bool | None = None) -> Engine:
    """The net at `path` (no suffix) as ONNX Runtime runs it when `use_onnx` (default: when onnxruntime is
    installed) and the card names an ONNX twin that exists, else as the torch ConvertedNet. A twin that fails
    its checksum raises OnnxIntegrityError rather than falling back: a swapped file is an error, not a mode."""
    path = _stem(path)
    twin = json.loads(path.with_name(path.name + ".json").read_text()).get("onnx")
    if use_onnx is None:
        use_onnx = importlib.util.find_spec("onnxruntime") is not None
    if use_onnx and twin and (path.parent / twin["file"]).is_file():
        return OnnxNet(path.parent / twin["file"], twin["sha256"])
    from fer_core.detection.converted_net import ConvertedNet

    return ConvertedNet.load(path)


def fast_network(path: str | Path) -> Engine:
    """The fastest available engine for the converted net at `path` (see `load_engine`), one per path, shared
    read-only by every caller and thread; call it through `run_engine`."""
    return _cached_engine(_stem(path))


@lru_cache(maxsize=None)
def _cached_engine(path: Path) -> Engine:
    return load_engine(path)
