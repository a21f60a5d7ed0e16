"""The recognizer on real faces: the right expression, every class present, thread safety, bad input."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from fer_core.imageio import ImageLoadError
from fer_core.labels import CLASSES
from fer_core.recognizer import Recognizer
from fer_core.research.media_check import POSED
from tests.conftest import require_shared


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer()


def test_happy_face_is_happiness(recognizer: Recognizer) -> None:
    faces = recognizer.analyze(require_shared("media/photos/faceapi_happy.jpg"))
    assert len(faces) == 1
    face = faces[0]
    assert face.label == "happiness"
    assert list(face.probs) == list(CLASSES)
    assert abs(sum(face.probs.values()) - 1) < 1e-4
    assert face.crop.shape == (112, 112, 3) and face.crop.dtype == np.uint8


def test_posed_expressions_mostly_right(recognizer: Recognizer) -> None:
    """The seven posed single-face photos: the model must get most of them, not only the easy ones."""
    hits = 0
    for stem, expected in POSED.items():
        faces = recognizer.analyze(require_shared(f"media/photos/faceapi_{stem}.jpg"))
        assert len(faces) == 1, stem
        hits += faces[0].label == expected
    assert hits >= 4, f"only {hits}/7 posed expressions recognised"


def test_group_photo_all_inputs_agree(recognizer: Recognizer) -> None:
    path = require_shared("media/photos/faceapi_bbt1.jpg")
    by_path = recognizer.analyze(path)
    by_pil = recognizer.analyze(Image.open(path))
    by_array = recognizer.analyze(np.asarray(Image.open(path).convert("RGB")))
    assert len(by_path) >= 3
    for a, b, c in zip(by_path, by_pil, by_array):
        assert a.box == b.box == c.box
        assert a.label == b.label == c.label


def test_parallel_equals_serial(recognizer: Recognizer) -> None:
    paths = [require_shared(f"media/photos/faceapi_{n}.jpg") for n in ("bbt1", "bbt2", "happy", "sad")] * 3
    serial = [[(f.box, f.probs) for f in recognizer.analyze(p)] for p in paths]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda p: [(f.box, f.probs) for f in recognizer.analyze(p)], paths))
    for s, p in zip(serial, parallel):
        # Equal up to float rounding: after other tests have run in this process (the Webcam AppTest, which
        # loads ONNX Runtime), boxes can differ by ~1e-4 px between threads, and probabilities by ~1e-4. A
        # race would give other faces or wildly other scores.
        assert len(s) == len(p)
        np.testing.assert_allclose([b for b, _ in s], [b for b, _ in p], atol=1e-2)
        for (_, ps), (_, pp) in zip(s, p):
            np.testing.assert_allclose(list(ps.values()), list(pp.values()), atol=1e-3)


def test_no_face_gives_empty_result(recognizer: Recognizer) -> None:
    sky = np.zeros((480, 640, 3), np.uint8)
    sky[...] = (120, 170, 230)
    assert recognizer.analyze(sky) == []


def test_huge_image_is_detected_downscaled_and_mapped_back(recognizer: Recognizer) -> None:
    path = require_shared("media/photos/faceapi_happy.jpg")
    rgb = np.asarray(Image.open(path).convert("RGB"))
    factor = max(1, int(np.ceil(6000 / max(rgb.shape[:2]))))
    big = np.kron(rgb, np.ones((factor, factor, 1), np.uint8))
    small_faces, big_faces = recognizer.analyze(rgb), recognizer.analyze(big)
    assert len(big_faces) == 1 and big_faces[0].label == small_faces[0].label
    np.testing.assert_allclose(np.array(big_faces[0].box) / factor, small_faces[0].box, rtol=0.1, atol=8)


def test_grey_and_rgba_photos_work(recognizer: Recognizer) -> None:
    path = require_shared("media/photos/faceapi_happy.jpg")
    assert recognizer.analyze(Image.open(path).convert("L"))[0].label == "happiness"
    assert recognizer.analyze(Image.open(path).convert("RGBA"))[0].label == "happiness"


def test_bad_file_raises_clear_error(recognizer: Recognizer, tmp_path) -> None:
    bad = tmp_path / "notes.jpg"
    bad.write_text("not really a jpeg")
    with pytest.raises(ImageLoadError, match="not an image"):
        recognizer.analyze(bad)
