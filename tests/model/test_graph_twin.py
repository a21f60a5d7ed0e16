"""The default model's graph twin (fer_core/model/graph_twin.py): ONNX Runtime running the network's graph with
the model's own safetensors weights must give the torch model's scores on real faces, refuse a graph or weights
it was not exported with, and let a face be labelled without importing torch at all."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fer_core.model.catalog import DEFAULT_MODEL, resolve_model_path
from fer_core.model.graph_twin import GraphClassifier, GraphTwinMismatch, graph_classifier
from fer_core.model.preprocess import grey_to_array
from tests.conftest import require_shared

pytest.importorskip("onnxruntime")
LOGIT_TOLERANCE = 1e-4  # float32 both ways; only summation order (and ORT's folded batch norm) differ


@pytest.fixture(scope="module")
def default_card() -> tuple[Path, dict]:
    path = resolve_model_path(DEFAULT_MODEL)
    return path, json.loads(path.with_suffix(".json").read_text())


def test_default_model_has_a_current_twin(default_card) -> None:
    """A retrained default without a re-exported twin would fail here (and, in the app, refuse to load)."""
    path, card = default_card
    assert "graph_twin" in card, f"re-export: fer-lens export --graph-twin --model {DEFAULT_MODEL}"
    assert isinstance(graph_classifier(path, card), GraphClassifier)
    assert (path.parent / card["graph_twin"]["file"]).stat().st_size < 200_000, "the graph alone, not the weights"


def test_twin_gives_the_torch_logits_on_fer_test_faces(default_card) -> None:
    import torch

    from fer_core.model.checkpoint import load_model
    from fer_core.training.data import load_dataset

    ds = load_dataset(require_shared("data", "ferplus"), "auto", "test", 48)
    faces = ds.images[np.random.default_rng(2).permutation(len(ds))[:300]]
    path, card = default_card
    loaded = load_model(path)
    x = grey_to_array(faces, loaded.spec)
    with torch.inference_mode():
        expected = loaded.model(torch.from_numpy(x)).numpy()
    got = graph_classifier(path, card)(x)
    assert got.shape == expected.shape == (len(faces), len(loaded.spec.labels))
    assert np.abs(got - expected).max() <= LOGIT_TOLERANCE
    assert (got.argmax(1) == expected.argmax(1)).all()


def test_the_loaded_model_runs_forward_passes_on_its_twin(default_card) -> None:
    """`load_model(...).fast` (occlusion, trust checks, evaluation) is the twin behind torch's calling
    convention, on any thread count: the torch model's logits on real faces, as a tensor."""
    import torch

    from fer_core.model.checkpoint import load_model
    from fer_core.model.graph_twin import TensorGraphClassifier
    from fer_core.training.data import load_dataset

    ds = load_dataset(require_shared("data", "ferplus"), "auto", "test", 48)
    faces = ds.images[np.random.default_rng(3).permutation(len(ds))[:200]]
    loaded = load_model(default_card[0])
    assert isinstance(loaded.fast, TensorGraphClassifier)
    x = torch.from_numpy(grey_to_array(faces, loaded.spec)).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        expected = loaded.model(x)
        got = loaded.fast(x)
        one_thread = loaded.fast.with_threads(1)
        assert one_thread.graph.session.get_session_options().intra_op_num_threads == 1
        alone = one_thread(x)
    assert isinstance(got, torch.Tensor) and got.shape == expected.shape
    assert (got - expected).abs().max().item() <= LOGIT_TOLERANCE
    assert torch.equal(got.argmax(1), expected.argmax(1))
    assert (alone - got).abs().max().item() <= LOGIT_TOLERANCE


def test_recognizer_labels_match_with_and_without_the_twin(media_photo) -> None:
    from dataclasses import replace

    from fer_core.model.checkpoint import load_model
    from fer_core.recognizer import Recognizer

    photo = media_photo("faceapi_bbt1.jpg")
    with_twin = Recognizer(DEFAULT_MODEL)
    # An already loaded model classifies with its fast copy: here the folded torch copy, not the twin.
    torch_only = Recognizer(replace(load_model(DEFAULT_MODEL), fast=None))
    assert with_twin.uses_graph_twin and not torch_only.uses_graph_twin
    a, b = with_twin.analyze_rgb(photo), torch_only.analyze_rgb(photo)
    assert len(a) == len(b) >= 2
    for fa, fb in zip(a, b):
        assert fa.box == fb.box and fa.label == fb.label
        assert max(abs(fa.probs[k] - fb.probs[k]) for k in fa.probs) < 1e-4


@pytest.mark.parametrize("which", ["graph", "weights"])
def test_a_changed_file_is_refused(default_card, tmp_path: Path, which: str) -> None:
    path, card = default_card
    twin = card["graph_twin"]
    (tmp_path / "graphs").mkdir()
    weights = tmp_path / path.name
    shutil.copy(path, weights)
    shutil.copy(path.parent / twin["file"], tmp_path / twin["file"])
    target = tmp_path / twin["file"] if which == "graph" else weights
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(GraphTwinMismatch, match="does not match the SHA-256"):
        GraphClassifier(weights, twin)


def test_a_stale_twin_is_refused_by_load_model_and_remade_by_the_export(default_card, tmp_path: Path) -> None:
    """Weights changed after the twin was made: loading the model refuses the twin's mismatch rather than run it,
    and `fer-lens export --graph-twin` (which reads only the torch module) still works and makes a current twin."""
    import torch

    from fer_core.model.checkpoint import load_model
    from fer_core.model.graph_twin import TensorGraphClassifier
    from fer_core.training.onnx_export import export_graph_twin

    path, card = default_card
    (tmp_path / "graphs").mkdir()
    weights = tmp_path / path.name
    for source in (path, path.with_suffix(".json"), path.parent / card["graph_twin"]["file"]):
        shutil.copy(source, tmp_path / source.relative_to(path.parent))
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01  # one weight in the middle of the tensors changes a little
    weights.write_bytes(bytes(data))
    with pytest.raises(GraphTwinMismatch):
        load_model(weights)
    export_graph_twin(str(weights))
    remade = load_model(weights)
    assert isinstance(remade.fast, TensorGraphClassifier)
    x = torch.randn(8, remade.spec.in_chans, remade.spec.input_size, remade.spec.input_size)
    with torch.inference_mode():
        assert (remade.fast(x) - remade.model(x)).abs().max().item() <= LOGIT_TOLERANCE


def test_a_face_is_labelled_without_importing_torch() -> None:
    """What the cold start relies on: face finder, Face Mesh and classifier all in ONNX Runtime."""
    photo = require_shared("media", "photos", "faceapi_happy.jpg")
    code = ("import sys\n"
            "from fer_core.recognizer import Recognizer\n"
            f"faces = Recognizer().analyze({str(photo)!r})\n"
            "print(len(faces), faces[0].label, 'torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1", "happiness", "False"]
