"""Latency and throughput benchmarks on this machine's CPU (the numbers the README and issues quote)."""
from __future__ import annotations

import statistics
import time
from typing import Any, Callable

import cv2
import numpy as np
import torch

from fer_core.detection import face_mesh
from fer_core.detection.align import CROP_SIZE
from fer_core.detection.registry import DEFAULT_DETECTOR, DETECTORS, create_detector
from fer_core.imageio import load_image
from fer_core.paths import shared_dir
from fer_core.recognizer import Recognizer


def _median_ms(fn: Callable[[], Any], repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def _classify_ms(net: Callable[[torch.Tensor], Any], x1: torch.Tensor, x64: torch.Tensor,
                 repeats: int) -> tuple[float, float]:
    """Median ms of one classifier pass at batch 1 and at batch 64."""
    with torch.inference_mode():
        return (_median_ms(lambda: net(x1), repeats * 3), _median_ms(lambda: net(x64), max(5, repeats // 3)))


def sample_frame_640x480() -> tuple[np.ndarray, str]:
    """A real 640x480 video frame with one face from ../shared/media, else a synthetic frame."""
    video = shared_dir() / "media" / "videos" / "liveportrait_d6.mp4"
    if video.exists():
        cap = cv2.VideoCapture(str(video))
        cap.set(cv2.CAP_PROP_POS_FRAMES, 60)
        ok, frame = cap.read()
        cap.release()
        if ok:
            return cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), (640, 480)), video.name
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (480, 640, 3), dtype=np.uint8), "synthetic noise (../shared absent)"


def sample_photo_1280x720() -> tuple[np.ndarray, str]:
    """A 1280x720 photo with three real faces side by side (three shared single-face photos)."""
    photos = [shared_dir() / "media" / "photos" / f"faceapi_{n}.jpg" for n in ("happy", "sad", "surprised")]
    canvas = np.full((720, 1280, 3), 235, np.uint8)
    if not all(p.exists() for p in photos):
        return canvas, "blank canvas (../shared absent)"
    for i, p in enumerate(photos):
        img = load_image(p)
        scale = min(420 / img.shape[1], 700 / img.shape[0])
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        y0, x0 = (720 - img.shape[0]) // 2, 10 + i * 425 + (420 - img.shape[1]) // 2
        canvas[y0:y0 + img.shape[0], x0:x0 + img.shape[1]] = img
    return canvas, "3 faces: faceapi_happy + faceapi_sad + faceapi_surprised"


def run_bench(model: str | None = None, threads: int | None = None, repeats: int = 30) -> dict[str, Any]:
    if threads:
        torch.set_num_threads(threads)
    rec = Recognizer(model)
    spec = rec.loaded.spec
    net = rec.loaded.fast
    shape = (spec.in_chans, spec.input_size, spec.input_size)
    x1 = torch.randn(1, *shape).contiguous(memory_format=torch.channels_last)
    x64 = torch.randn(64, *shape).contiguous(memory_format=torch.channels_last)
    b1, b64 = _classify_ms(net, x1, x64, repeats)
    crop = np.full((1, CROP_SIZE, CROP_SIZE, 3), 128, np.uint8)
    face_ms = _median_ms(lambda: rec.classify_crops(crop), repeats * 3)  # preprocessing + flip average included
    reference = _reference_speed(rec, x1, x64, repeats)
    frame, frame_src = sample_frame_640x480()
    detect_ms: dict[str, Any] = {}
    for name in DETECTORS:
        det = create_detector(name)
        detect_ms[name] = round(_median_ms(lambda: det.detect(frame), repeats), 2)
    detect_ms["default"] = detect_ms[DEFAULT_DETECTOR]
    photo, photo_src = sample_photo_1280x720()
    faces = len(rec.analyze_rgb(photo))
    analyze = _median_ms(lambda: rec.analyze_rgb(photo), repeats)
    mesh = _mesh_speed(rec, frame, photo, repeats)
    result = {
        "threads": torch.get_num_threads(),
        "model": rec.name,
        "engine": _engine(rec),
        "classify_ms_b1": round(b1, 2),
        "classify_faces_per_s_b64": round(64000 / b64, 1),
        "classify_face_ms_with_tta": round(face_ms, 2),
        "detect_ms_640x480": detect_ms,
        "default_detector": DEFAULT_DETECTOR,
        "analyze_ms_1280x720": round(analyze, 2),
        "analyze_faces": faces,
        "analyze_flip_tta": rec.flip_tta,
        "analyze_with_mesh": rec.mesh,
        **mesh,
        "inputs": {"frame_640x480": frame_src, "photo_1280x720": photo_src},
        "measured_on": time.strftime("%Y-%m-%d"),  # so a card says when and where, not "on this computer"
        "processor": processor_name(),
    }
    if reference:
        reference["speedup_b64"] = round(result["classify_faces_per_s_b64"] / reference["classify_faces_per_s_b64"], 2)
        reference["speedup_b1"] = round(reference["classify_ms_b1"] / result["classify_ms_b1"], 2)
        result["reference"] = reference
    return result


def processor_name() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux, else `platform`), or "" when unknown."""
    import platform

    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _engine(rec: Recognizer) -> str:
    """What classifies: an exported ONNX model, a safetensors model's graph twin, or the folded torch copy."""
    from fer_core.model.graph_twin import TensorGraphClassifier

    if rec.loaded.path and rec.loaded.path.suffix == ".onnx":
        return "onnxruntime"
    return "onnxruntime graph twin" if isinstance(rec.loaded.fast, TensorGraphClassifier) else "torch"


def _reference_speed(rec: Recognizer, x1: torch.Tensor, x64: torch.Tensor, repeats: int) -> dict[str, Any] | None:
    """For an exported (ONNX) model, its fp32 torch reference, and for a graph twin the folded torch copy it
    stands in for, timed on the same inputs in the same run, so the speed-up is measured, not quoted."""
    runtime = rec.card.get("runtime")
    if not runtime and _engine(rec) == "torch":
        return None
    from fer_core.model.checkpoint import inference_module

    b1, b64 = _classify_ms(inference_module(rec.loaded.model), x1, x64, repeats)
    return {"model": runtime.get("reference_model") if runtime else rec.name, "engine": "torch",
            "classify_ms_b1": round(b1, 2), "classify_faces_per_s_b64": round(64000 / b64, 1)}


def _mesh_speed(rec: Recognizer, frame: np.ndarray, photo: np.ndarray, repeats: int) -> dict[str, Any]:
    """Face Mesh cost: one face (of the 640x480 frame, else of the packaged sample photo), and the 3-face photo
    analysed with and without meshes."""
    if not rec.mesh:
        return {}
    from fer_core.samples import sample_photo_rgb

    image, one = frame, rec.detect(frame)[:1]
    if not one:  # ../shared absent: the frame is noise
        image = sample_photo_rgb()
        one = rec.detect(image)[:1]
    out: dict[str, Any] = {}
    if one:
        out["mesh_ms_per_face"] = round(_median_ms(lambda: face_mesh.fit(image, one), repeats), 2)
    dets = rec.detect(photo)
    if len(dets) == 3:
        out["mesh_ms_3_faces"] = round(_median_ms(lambda: face_mesh.fit(photo, dets), repeats), 2)
    rec_plain = Recognizer(rec.loaded, detector=rec.detector, flip_tta=rec.flip_tta, mesh=False)
    out["analyze_ms_1280x720_without_mesh"] = round(_median_ms(lambda: rec_plain.analyze_rgb(photo), repeats), 2)
    return out

