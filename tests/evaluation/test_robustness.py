"""Perturbations land where they claim (eyes, mouth) and do what they say; the robustness report on real
FER2013Test faces agrees with plain evaluation; a real face can be compared under every change."""
from __future__ import annotations

import numpy as np
import pytest

from fer_core.detection.align import FER_TEMPLATE
from fer_core.evaluation.metrics import evaluate_crops
from fer_core.evaluation.perturb import PERTURBATIONS, perturb, perturb_many, rotate
from fer_core.evaluation.robustness import face_under_perturbations, robustness_report
from tests.conftest import REPO, require_shared


def _changed_rows(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    rows = np.nonzero(np.any(before != after, axis=1))[0]
    return rows / before.shape[0]


@pytest.mark.parametrize("size", [48, 112])
def test_eye_and_mouth_bars_cover_the_template_landmarks(size: int) -> None:
    crop = np.full((size, size), 200, np.uint8)
    eyes, mouth = perturb(crop, "eyes_occluded"), perturb(crop, "mouth_occluded")
    for (x, y), covered in zip(FER_TEMPLATE, [eyes, eyes, None, mouth, mouth]):
        if covered is not None:
            assert covered[int(y * size), int(x * size)] == 0
    eye_rows, mouth_rows = _changed_rows(crop, eyes), _changed_rows(crop, mouth)
    assert eye_rows.max() < FER_TEMPLATE[2, 1] < mouth_rows.min(), "the bars must leave the nose tip alone"


def test_photometric_changes_do_what_they_say() -> None:
    crop = np.tile(np.arange(0, 240, 5, dtype=np.uint8), (48, 1))
    np.testing.assert_array_equal(perturb(crop, "brightness_0.5"), np.round(crop * 0.5).astype(np.uint8))
    bright = perturb(crop, "brightness_1.5")
    assert bright.max() == 255 and bright[0, 10] == round(crop[0, 10] * 1.5)
    edge = np.zeros((48, 48), np.uint8)
    edge[:, 24:] = 240
    blurred = perturb(edge, "blur")  # a sharp edge becomes a ramp a few pixels wide
    assert np.abs(np.diff(blurred[24].astype(int))).max() < 120 and 3 <= np.count_nonzero(np.diff(blurred[24]))
    rgb = np.stack([crop, crop[::-1], crop.T], axis=2)
    jpeg = perturb(rgb, "jpeg_20")
    assert jpeg.shape == rgb.shape and not np.array_equal(jpeg, rgb)
    assert np.abs(jpeg.astype(int) - rgb).mean() < 20


def test_rotation_turns_a_line_by_twenty_degrees() -> None:
    crop = np.zeros((101, 101), np.uint8)
    crop[50, 10:91] = 255
    turned = rotate(crop, 20.0)  # anticlockwise: the right end rises
    ys, xs = np.nonzero(turned > 128)
    slope = np.polyfit(xs, ys, 1)[0]
    assert np.degrees(np.arctan(-slope)) == pytest.approx(20.0, abs=1.5)
    assert np.array_equal(perturb(crop, "rotate_+20"), turned)


def test_unknown_perturbation_is_refused() -> None:
    with pytest.raises(ValueError, match="choose one of"):
        perturb(np.zeros((48, 48), np.uint8), "sunburn")


@pytest.fixture(scope="module")
def loaded():
    from fer_core.model.checkpoint import load_model

    try:
        return load_model()
    except FileNotFoundError:
        pytest.skip("no built-in model in fer_core/weights")


def test_report_on_real_test_faces_agrees_with_plain_evaluation(loaded) -> None:
    from fer_core.training.data import load_dataset

    root = require_shared("data", "ferplus")
    ds = load_dataset(root, "ferplus", "test", loaded.spec.source_size, cache_dir=REPO / ".cache" / "data")
    images, labels = ds.images[:300], ds.labels[:300]
    report = robustness_report(loaded, images, labels, names=["eyes_occluded", "brightness_0.5"])
    plain = evaluate_crops(loaded.model, loaded.spec, images, labels)
    assert report["n"] == 300 and report["clean"]["accuracy"] == pytest.approx(plain["accuracy"])
    eyes = report["perturbations"]["eyes_occluded"]
    direct = evaluate_crops(loaded.model, loaded.spec, perturb_many(images, "eyes_occluded"), labels)
    assert eyes["accuracy"] == pytest.approx(direct["accuracy"])
    assert eyes["accuracy_drop"] == pytest.approx(plain["accuracy"] - direct["accuracy"])
    assert eyes["accuracy"] < plain["accuracy"], "covering both eyes should cost accuracy"


def test_a_real_face_under_every_change(loaded) -> None:
    from fer_core.imageio import load_image
    from fer_core.recognizer import Recognizer

    rec = Recognizer(model=loaded)
    face = rec.analyze_rgb(load_image(require_shared("media", "photos", "faceapi_happy.jpg")))[0]
    found = face_under_perturbations(rec.classify_crops, face.crop)
    assert list(found) == ["original", *PERTURBATIONS]
    crop, probs = found["original"]
    np.testing.assert_allclose(probs, rec.classify_crops(face.crop[None])[0], atol=1e-5)
    assert loaded.spec.labels[int(np.argmax(probs))] == "happiness"
    for name, (changed, p) in found.items():
        assert changed.shape == face.crop.shape and p.sum() == pytest.approx(1.0, abs=1e-4)
        if name != "original":
            assert not np.array_equal(changed, face.crop), name
