"""The fast engine for converted nets (`net_engine.fast_network`): the ONNX twins give the torch
ConvertedNet's outputs on real faces, a tampered twin is refused, and without onnxruntime (or without a twin)
the torch net is used.

Tolerance: max |ONNX Runtime - ConvertedNet| <= ENGINE_TOLERANCE (1e-5) x max(1, range of the ConvertedNet
output) per output. Both are float32 and differ only in summation order and in PReLU's export form (a few
ulp): measured at most 1.2e-6 of the range (1.4e-4 px on the mesh's 198 px, 2e-4 on the detectors' ~300).
"""
from __future__ import annotations

import json
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from fer_core.detection.converted_net import ConvertedNet
from fer_core.detection.net_engine import OnnxNet, fast_network, load_engine, run_engine
from fer_core.model.onnx_runtime import OnnxIntegrityError
from fer_core.training.convert_mediapipe import NETWORKS, OUT_DIR, parity_inputs
from tests.conftest import require_shared

ENGINE_TOLERANCE = 1e-5
STEMS = [net.stem for net in NETWORKS]
PHOTOS = ("faceapi_happy.jpg", "faceapi_bbt1.jpg")  # one portrait, one group with small faces


@pytest.fixture(scope="module")
def faces() -> dict[str, np.ndarray]:
    folder = require_shared("media", "photos")
    return {name: cv2.cvtColor(cv2.imread(str(folder / name)), cv2.COLOR_BGR2RGB) for name in PHOTOS}


def _copy(stem: str, folder: Path, suffixes: tuple[str, ...] = ("json", "safetensors", "onnx")) -> Path:
    for suffix in suffixes:
        shutil.copy(OUT_DIR / f"{stem}.{suffix}", folder / f"{stem}.{suffix}")
    return folder / stem


@pytest.mark.parametrize("stem", STEMS)
def test_onnx_engine_matches_converted_net_on_real_faces(stem: str, faces: dict[str, np.ndarray]):
    """Detectors on whole letterboxed photos (128 / 192), the mesh on a 192 crop around each found face;
    one batch and one image at a time (the mesh runs batched, the detectors on single frames)."""
    pytest.importorskip("onnxruntime")
    reference = ConvertedNet.load(OUT_DIR / stem)
    engine = load_engine(OUT_DIR / stem)
    assert isinstance(engine, OnnxNet)
    images = parity_inputs(stem, faces, ConvertedNet.load(OUT_DIR / "face_detection_full_range_sparse"))
    x = torch.from_numpy(images).permute(0, 3, 1, 2)
    with torch.inference_mode():
        expected = reference(x)
    for got in (engine(x), [torch.cat(o) for o in zip(*(engine(x[i:i + 1]) for i in range(len(x))))]):
        assert len(got) == len(expected)
        for name, fast, ref in zip(reference.output_names, got, expected):
            assert fast.shape == ref.shape and fast.dtype == ref.dtype == torch.float32, name
            span = float(ref.max() - ref.min())
            diff = float((fast - ref).abs().max())
            assert diff <= ENGINE_TOLERANCE * max(1.0, span), f"{stem} {name}: {diff} over range {span}"


def test_tampered_onnx_is_refused(tmp_path: Path):
    pytest.importorskip("onnxruntime")
    path = _copy("face_landmark", tmp_path)
    onnx_file = path.with_suffix(".onnx")
    data = bytearray(onnx_file.read_bytes())
    data[len(data) // 2] ^= 0x01
    onnx_file.write_bytes(bytes(data))
    with pytest.raises(OnnxIntegrityError, match="does not match the SHA-256 in its card"):
        load_engine(path)
    with pytest.raises(OnnxIntegrityError):
        fast_network(path)  # never falls back to torch for a swapped file


def test_torch_fallback_without_onnxruntime_or_twin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    stem = "face_detection_short_range"
    x = torch.rand(2, 3, 128, 128) * 2 - 1
    with torch.inference_mode():
        expected = ConvertedNet.load(OUT_DIR / stem)(x)
    engines = [load_engine(OUT_DIR / stem, use_onnx=False),  # the fallback path, chosen directly
               load_engine(_copy(stem, tmp_path, ("json", "safetensors")))]  # no .onnx beside the card
    unverified = tmp_path / "no_checksum"
    unverified.mkdir()
    card = json.loads((OUT_DIR / f"{stem}.json").read_text())
    del card["onnx"]
    _copy(stem, unverified, ("safetensors", "onnx"))
    (unverified / f"{stem}.json").write_text(json.dumps(card))
    engines.append(load_engine(unverified / stem))  # a twin the card does not vouch for is not run
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if onnxruntime were not installed
    engines.append(load_engine(OUT_DIR / stem))
    for engine in engines:
        assert isinstance(engine, ConvertedNet)
        with torch.inference_mode():
            got = engine(x)
        assert all(torch.equal(g, e) for g, e in zip(got, expected))
        # run_engine, which detection calls: numpy in and out, whichever engine
        assert all(np.array_equal(g, e.numpy()) for g, e in zip(run_engine(engine, x.numpy()), expected))


def test_fast_network_is_shared_and_thread_safe():
    pytest.importorskip("onnxruntime")
    path = OUT_DIR / "face_landmark"
    net = fast_network(path)
    assert net is fast_network(str(path)) is fast_network(path.with_suffix(".json"))
    batches = [torch.rand(1 + i % 3, 3, 192, 192) for i in range(8)]
    serial = [net(b) for b in batches]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(net, batches))
    for one, other in zip(serial, parallel):
        assert all(torch.equal(a, b) for a, b in zip(one, other))
    with pytest.raises(ValueError, match="expected input"):
        net(torch.zeros(1, 3, 128, 128))
    card = json.loads(path.with_suffix(".json").read_text())
    two = OnnxNet(path.with_suffix(".onnx"), card["onnx"]["sha256"], threads=2)  # the option, not the default
    for one, other in zip(serial[1], two(batches[1])):
        torch.testing.assert_close(other, one, rtol=0, atol=1e-4)
    numpy_out = run_engine(net, batches[1].numpy())
    assert all(isinstance(o, np.ndarray) and np.array_equal(o, s.numpy()) for o, s in zip(numpy_out, serial[1]))
