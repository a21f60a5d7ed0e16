"""A built-in model's classifier in ONNX Runtime, from its own safetensors weights: no torch on the way to a label.

Why: importing torch takes over a second of a cold start on 2 cores, and the first label should not wait for
it. Every safetensors model may carry a *graph twin*: the network's ONNX graph alone (`weights/graphs/<name>.onnx`,
tens of kB), whose every weight is declared external and is handed to ONNX Runtime, at load time, from the
model's own `.safetensors` file (float16 upcast to float32, as torch loads them). So the weights exist once,
and the graph and the torch module compute the same logits (to ~1e-5; tests/model/test_graph_twin.py).
ONNX Runtime folds batch norm into the convolutions itself.

The card's `graph_twin` section names the graph and holds the SHA-256 of both files; a mismatch raises
rather than running a graph against weights it was not exported with (re-export with
`fer-lens export --graph-twin --model <name>`). Explanations that need gradients stay on torch; those that run
forward passes only (occlusion, the trust check) run on the twin too, through `TensorGraphClassifier`.
"""
from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fer_core.model.onnx_runtime import OnnxIntegrityError, call_with_tensors, verified_bytes

if TYPE_CHECKING:
    import torch

GRAPHS_DIR = "graphs"  # under the weights folder; not a model of its own, so not listed as one


class GraphTwinMismatch(OnnxIntegrityError):
    """The graph or the weights do not match the SHA-256 in the model card."""


def _checked(path: Path, sha256: str) -> bytes:
    return verified_bytes(path, sha256, "re-export its graph twin with `fer-lens export --graph-twin --model <name>`",
                          GraphTwinMismatch)


def photo_threads() -> int:
    """Two intra-op threads for photos (the app's torch setting), capped by the cores."""
    return max(1, min(2, os.cpu_count() or 1))


class GraphClassifier:
    """`logits = clf(x)` for an (N, C, H, W) float32 array. One ONNX Runtime session, safe to run from many
    threads at once (ONNX Runtime's documented guarantee), serves every browser session."""

    def __init__(self, weights: str | Path, twin: dict[str, Any], threads: int | None = None) -> None:
        import onnxruntime as ort
        from safetensors.numpy import load as load_safetensors

        weights = Path(weights)
        self.weights, self.twin = weights, dict(twin)
        graph = _checked(weights.parent / twin["file"], twin["sha256"])
        tensors = load_safetensors(_checked(weights, twin["weights_sha256"]))
        names = sorted(tensors)
        # ONNX Runtime reads these buffers while it builds the session; they are kept with it regardless.
        self._values = [ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(tensors[n], np.float32)) for n in names]
        options = ort.SessionOptions()
        options.add_external_initializers(names, self._values)
        options.intra_op_num_threads = threads or photo_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle workers sleep
        self.session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: np.ascontiguousarray(x, np.float32)})[0]


class TensorGraphClassifier:
    """A `GraphClassifier` called the way a torch module is (tensor in, logits tensor out): the loaded model's
    `fast` copy, for forward passes only. On 2 cores it runs the several hundred occluded and masked faces of
    a group photo's heatmaps and trust checks in about 0.6 ms each, against about 0.85 ms for the folded
    torch copy (fer-resnet10t-v3, 300 faces at 64 px in batches of 150-300; `fer-lens bench` times both)."""

    def __init__(self, graph: GraphClassifier) -> None:
        self.graph = graph

    def __call__(self, x: "torch.Tensor") -> "torch.Tensor":
        return call_with_tensors(self.graph, x)

    def with_threads(self, threads: int) -> "TensorGraphClassifier":
        """The same classifier on its own session with `threads` intra-op threads (shared like every session)."""
        w, t = self.graph.weights, self.graph.twin
        return TensorGraphClassifier(_shared(w, t["file"], t["sha256"], t["weights_sha256"], threads))


def graph_classifier(weights: str | Path, card: dict[str, Any], threads: int | None = None) -> GraphClassifier | None:
    """The twin of the safetensors model at `weights`, or None where there is none (no `graph_twin` in the
    card, no graph file, an ONNX model, or no onnxruntime): the caller then classifies with torch. One session
    per model, checksums and thread count, shared by every recognizer (one per face finder in the app)."""
    twin = card.get("graph_twin")
    weights = Path(weights).resolve()
    if (weights.suffix != ".safetensors" or not twin or not (weights.parent / twin["file"]).is_file()
            or importlib.util.find_spec("onnxruntime") is None):
        return None
    return _shared(weights, twin["file"], twin["sha256"], twin["weights_sha256"], threads or photo_threads())


@lru_cache(maxsize=8)
def _shared(weights: Path, file: str, sha256: str, weights_sha256: str, threads: int) -> GraphClassifier:
    return GraphClassifier(weights, {"file": file, "sha256": sha256, "weights_sha256": weights_sha256}, threads)
