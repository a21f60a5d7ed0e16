"""ONNX Runtime inference behind the same callable interface as a torch classifier.

An exported model (`python -m fer_core export --onnx`) is a `<name>.onnx` graph beside a `<name>.json`
card. The card names the safetensors model it was exported from (`runtime.reference_model`): the
Recognizer classifies with the ONNX graph, while explanations (Grad-CAM, attention, ...) need gradients
and run on that fp32 reference. The card also holds the graph's SHA-256, checked before the graph is
loaded, so a swapped or truncated file is refused rather than run.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

if TYPE_CHECKING:  # torch only in the calls that take tensors: the checksum error is needed without it
    import torch


def call_with_tensors(run: "Callable[[np.ndarray], np.ndarray]", x: "torch.Tensor") -> "torch.Tensor":
    """`run` (float32 array in, array out) called the way a torch module is: tensor in, tensor out."""
    import torch

    return torch.from_numpy(run(np.ascontiguousarray(x.detach().float().numpy())))


class OnnxIntegrityError(ValueError):
    """The ONNX file does not match the checksum in its model card."""


def verified_bytes(path: str | Path, sha256: str, remedy: str,
                   error: type[OnnxIntegrityError] | None = None) -> bytes:
    """The file's bytes, read once and checked against the SHA-256 its card holds; a mismatch raises `error`
    (default OnnxIntegrityError) naming the file and `remedy`. What runs is what was checked, never re-read."""
    path = Path(path)
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise (error or OnnxIntegrityError)(f"{path.name} does not match the SHA-256 in its card; {remedy}")
    return data


def sha256_of(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def default_threads() -> int:
    """Match torch's thread setting (1 in the live Webcam path, 2 for photos), capped by the cores."""
    import torch

    return max(1, min(torch.get_num_threads(), os.cpu_count() or 1))


class OnnxClassifier:
    """`logits = clf(x)` for an (N, C, H, W) float tensor, like the torch module it replaces.

    One `InferenceSession` is safe to run from many threads at once (ONNX Runtime's documented
    guarantee), so a single instance serves every browser session, as the torch path does.
    """

    def __init__(self, path: str | Path, sha256: str | None = None, threads: int | None = None) -> None:
        import onnxruntime as ort

        path = Path(path)
        graph = (verified_bytes(path, sha256, "re-export it with `python -m fer_core export --onnx`")
                 if sha256 is not None else path.read_bytes())
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or default_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle ORT workers must sleep, not spin: they share 2 cores with the torch face detector, and
        # spinning made the 3-face photo benchmark take 41 ms instead of 18 ms.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = path
        self.session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return call_with_tensors(lambda batch: self.session.run(None, {self.input_name: batch})[0], x)
