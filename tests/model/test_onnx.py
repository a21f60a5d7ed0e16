"""The ONNX Runtime path: export, the shipped int8 twin, integrity checks, and thread safety."""
from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from fer_core.cli.main import main
from fer_core.evaluation.metrics import compute_metrics, predict_logits
from fer_core.model.catalog import BUILTIN_DIR, DEFAULT_MODEL, describe, int8_twin
from fer_core.model.checkpoint import load_model
from fer_core.model.onnx_runtime import OnnxIntegrityError, sha256_of
from fer_core.model.preprocess import softmax
from fer_core.recognizer import Recognizer
from fer_core.training.data import load_dataset
from tests.conftest import require_shared

INT8 = f"{DEFAULT_MODEL}-int8"
requires_int8 = pytest.mark.skipif(not (BUILTIN_DIR / f"{INT8}.onnx").exists(),
                                   reason=f"{INT8}.onnx is not shipped in fer_core/weights")


@pytest.fixture(scope="module")
def test_faces():
    root = require_shared("data", "ferplus")
    ds = load_dataset(root, "auto", "test", 48)
    idx = np.random.default_rng(0).permutation(len(ds))[:600]
    return ds.subset(np.sort(idx))


@pytest.fixture(scope="module")
def fp32_export(tmp_path_factory):
    """The default model exported to a float32 ONNX graph by the real CLI, in a temporary folder."""
    out = tmp_path_factory.mktemp("onnx")
    assert main(["export", "--onnx", "--out", str(out)]) == 0
    return out / f"{DEFAULT_MODEL}-onnx.onnx"


def test_export_cli_writes_graph_and_card(fp32_export) -> None:
    card = json.loads(fp32_export.with_suffix(".json").read_text())
    runtime = card["runtime"]
    assert runtime["engine"] == "onnxruntime" and runtime["reference_model"] == DEFAULT_MODEL
    assert runtime["sha256"] == sha256_of(fp32_export)
    assert card["export_command"].startswith("fer-lens export --onnx")
    assert "metrics_test" not in card and "latency" not in card, "figures must be measured on the export itself"
    assert card["spec"]["input_size"] == load_model(DEFAULT_MODEL).spec.input_size


def test_fp32_graph_reproduces_torch_logits(fp32_export, test_faces) -> None:
    reference = load_model(DEFAULT_MODEL)
    exported = load_model(fp32_export)
    assert exported.model is not None and exported.path.suffix == ".onnx"
    ref = predict_logits(reference.model, test_faces.images, reference.spec)
    got = predict_logits(exported.fast, test_faces.images, exported.spec)
    np.testing.assert_allclose(got, ref, atol=1e-3)


def test_tampered_graph_is_refused(fp32_export, tmp_path) -> None:
    copy = tmp_path / fp32_export.name
    shutil.copy(fp32_export.with_suffix(".json"), copy.with_suffix(".json"))
    data = bytearray(fp32_export.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(OnnxIntegrityError, match="SHA-256"):
        load_model(copy)


@requires_int8
def test_int8_twin_is_listed_and_described() -> None:
    assert int8_twin(DEFAULT_MODEL) == INT8
    assert int8_twin(INT8) is None
    assert "int8" in describe(INT8)


@requires_int8
def test_int8_weights_use_seven_bits() -> None:
    """8-bit weights saturate ONNX Runtime's int16 pair sums on CPUs without VNNI (the agreement test below
    caught it on such a machine: 95.5%); 7-bit weights cannot, so the shipped graph must hold no weight
    outside [-64, 64] whatever CPU runs this test."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(BUILTIN_DIR / f"{INT8}.onnx")).graph
    weights = [numpy_helper.to_array(t) for t in graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert sum(w.size for w in weights) > 1_000_000  # the convolution weights, not only a few constants
    assert max(int(np.abs(w.astype(np.int16)).max()) for w in weights) <= 64


@requires_int8
def test_int8_agrees_with_its_reference_on_test_faces(test_faces) -> None:
    reference, int8 = load_model(DEFAULT_MODEL), load_model(INT8)
    p_ref = softmax(predict_logits(reference.model, test_faces.images, reference.spec))
    p_int8 = softmax(predict_logits(int8.fast, test_faces.images, int8.spec))
    agreement = float((p_ref.argmax(1) == p_int8.argmax(1)).mean())
    acc_ref = compute_metrics(p_ref, test_faces.labels)["accuracy"]
    acc_int8 = compute_metrics(p_int8, test_faces.labels)["accuracy"]
    assert agreement >= 0.97, f"int8 changes the top class on {1 - agreement:.1%} of 600 FER2013Test faces"
    assert abs(acc_int8 - acc_ref) <= 0.01, (acc_ref, acc_int8)


@requires_int8
def test_int8_recognizer_reads_a_real_smile() -> None:
    photo = require_shared("media", "photos", "faceapi_happy.jpg")
    faces = Recognizer(INT8).analyze(photo)
    assert len(faces) == 1 and faces[0].label == "happiness"
    assert abs(sum(faces[0].probs.values()) - 1) < 1e-4


@requires_int8
def test_int8_parallel_calls_equal_serial(media_photo) -> None:
    """One ONNX Runtime session shared by many threads, as the app shares it between browser sessions.

    The session itself must give bit-identical scores for the same crops on any thread. End to end, MTCNN's
    torch arithmetic can differ across threads after other tests have run in this process (boxes by ~6e-4 px,
    so a few crop pixels by 1-3 grey levels, which int8 turns into up to ~0.006 of probability): same
    faces and labels, scores within 0.02. A race would swap faces or scramble scores far beyond that."""
    rec = Recognizer(INT8)
    photos = [media_photo(n) for n in ("faceapi_bbt1.jpg", "faceapi_bbt2.jpg", "faceapi_happy.jpg")] * 4
    serial = [rec.analyze_rgb(p) for p in photos]
    with ThreadPoolExecutor(max_workers=6) as pool:
        parallel = list(pool.map(rec.analyze_rgb, photos))
    assert sum(len(s) for s in serial) >= 12
    crops = np.stack([f.crop for s in serial[:3] for f in s])
    alone = rec.classify_crops(crops)
    with ThreadPoolExecutor(max_workers=6) as pool:
        shared = list(pool.map(lambda _: rec.classify_crops(crops), range(12)))
    for probs in shared:
        np.testing.assert_array_equal(probs, alone)
    for s, p in zip(serial, parallel):
        assert len(s) == len(p)
        for a, b in zip(s, p):
            assert a.label == b.label and max(abs(a.probs[k] - b.probs[k]) for k in a.probs) < 0.02


@requires_int8
def test_int8_explanations_use_the_reference_network() -> None:
    """Heatmaps need gradients, which an int8 graph does not have: they come from the fp32 reference."""
    int8 = load_model(INT8)
    assert isinstance(int8.model, torch.nn.Module)
    assert any(p.dtype == torch.float32 for p in int8.model.parameters())
