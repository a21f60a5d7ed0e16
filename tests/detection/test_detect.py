"""Face detectors: real-photo accuracy, edge cases, thread safety, and the Keras -> torch weight layout."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from numpy.lib.stride_tricks import sliding_window_view

from fer_core.bench.detectors import PHOTO_FACES, match_photo
from fer_core.detection.base import Detection
from fer_core.detection.mtcnn import KerasSameMaxPool2d, load_keras_arrays, load_net
from fer_core.detection.registry import DEFAULT_DETECTOR, DETECTORS, create_detector

# What each detector must achieve on the group photos (measured; see `fer-lens detect-bench`). The frontal Haar
# cascade cannot see the turned face or the face cut by the edge in bbt2, so it is held to less there.
# BlazeFace's short-range net sees a 128 px copy and is made for faces near the camera: the ~6% faces of the
# 1366 px bbt1 are below what it can see, which is why its full-range sibling exists.
GROUP_PHOTO_MIN_FOUND = {"mtcnn": {"faceapi_bbt1.jpg": 4, "faceapi_bbt2.jpg": 3},
                         "blazeface": {"faceapi_bbt1.jpg": 4, "faceapi_bbt2.jpg": 3},
                         "blazeface-full": {"faceapi_bbt1.jpg": 4, "faceapi_bbt2.jpg": 3},
                         "blazeface-short": {"faceapi_bbt1.jpg": 0, "faceapi_bbt2.jpg": 2},
                         "haar": {"faceapi_bbt1.jpg": 3, "faceapi_bbt2.jpg": 1}}
GROUP_PHOTO_MAX_FALSE = {"mtcnn": 0, "blazeface": 0, "blazeface-full": 0, "blazeface-short": 1, "haar": 1}


@pytest.fixture(scope="module", params=sorted(DETECTORS))
def detector(request):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tests share the machine; the detectors are small
    yield create_detector(request.param)
    torch.set_num_threads(threads)


def test_registry_and_default():
    assert set(DETECTORS) == {"haar", "mtcnn", "blazeface", "blazeface-short", "blazeface-full"}
    assert all(info.title and info.note and info.label.startswith(info.title) for info in DETECTORS.values())
    # a webcam's faces are near the camera: the default's stream runs the close-up net, a registered detector
    assert DETECTORS[DEFAULT_DETECTOR].stream_name in DETECTORS
    assert all(DETECTORS[d].stream_name == d for d in ("mtcnn", "haar", "blazeface-short"))
    assert DEFAULT_DETECTOR in DETECTORS
    with pytest.raises(ValueError, match="unknown face detector"):
        create_detector("nope")


@pytest.mark.parametrize("photo", ["faceapi_bbt1.jpg", "faceapi_bbt2.jpg"])
def test_group_photos(detector, media_photo, photo):
    detections = detector.detect(media_photo(photo))
    found, false, _missed = match_photo(detections, PHOTO_FACES[photo])
    assert found >= GROUP_PHOTO_MIN_FOUND[detector.name][photo], detections
    assert false <= GROUP_PHOTO_MAX_FALSE[detector.name], detections
    scores = [d.score for d in detections]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)


def test_single_face_photo(detector, media_photo):
    rgb = media_photo("faceapi_surprised.jpg")
    detections = detector.detect(rgb)
    assert len(detections) == 1
    face = detections[0]
    found, false, _ = match_photo(detections, PHOTO_FACES["faceapi_surprised.jpg"])
    assert (found, false) == (1, 0)
    if detector.name == "haar":
        assert face.landmarks is None
        return
    points = face.landmarks
    assert points.shape == (5, 2) and points.dtype == np.float32
    left_eye, right_eye, nose, mouth_left, mouth_right = points
    assert left_eye[0] < right_eye[0] and mouth_left[0] < mouth_right[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])
    x, y, w, h = face.box
    assert np.all((points >= [x, y]) & (points <= [x + w, y + h]))


def test_grey_photo_still_finds_the_face(detector, media_photo):
    grey = media_photo("faceapi_sad.jpg").mean(axis=2).astype(np.uint8)
    assert len(detector.detect(np.repeat(grey[:, :, None], 3, axis=2))) == 1
    assert len(detector.detect(grey)) == 1  # a bare HxW array is tolerated too


def test_rgba_and_float_photos_find_the_face_and_an_empty_frame_finds_none(detector, media_photo):
    rgb = media_photo("faceapi_sad.jpg")
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    assert len(detector.detect(rgba)) == 1
    assert len(detector.detect(rgb.astype(np.float32) / 255.0)) == 1  # floats in [0, 1], as imageio reads them
    assert detector.detect(np.zeros((0, 0, 3), np.uint8)) == []


@pytest.mark.parametrize("shape", [(480, 640, 3), (5, 5, 3), (1, 1, 3), (11, 300, 3)])
def test_no_faces_no_crash(detector, shape):
    rng = np.random.default_rng(0)
    assert detector.detect(np.zeros(shape, np.uint8)) == []
    assert detector.detect(np.full(shape, 128, np.uint8)) == []
    if shape[0] * shape[1] <= 300 * 11:
        assert detector.detect(rng.integers(0, 256, shape, dtype=np.uint8)) == []


def _as_tuples(detections: list[Detection]) -> list[tuple]:
    return [(d.box, d.score, None if d.landmarks is None else d.landmarks.tobytes()) for d in detections]


def test_thread_safe_shared_instance(detector, media_photo):
    images = [media_photo("faceapi_bbt2.jpg"), media_photo("faceapi_happy.jpg")] * 4
    serial = [_as_tuples(detector.detect(image)) for image in images]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda image: _as_tuples(detector.detect(image)), images))
    assert parallel == serial


# ---------------------------------------------------------------- Keras semantics, written out in numpy

def keras_conv(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Conv2D(padding="valid") on NHWC with an HWIO kernel."""
    kh, kw = kernel.shape[:2]
    windows = sliding_window_view(x, (kh, kw), axis=(1, 2))  # N, H', W', C, kh, kw
    return np.einsum("nhwcij,ijco->nhwo", windows, kernel) + bias


def keras_prelu(x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, alpha * x)  # alpha (1, 1, C) with shared_axes=[1, 2], or (units,)


def keras_maxpool(x: np.ndarray, size: int, stride: int, padding: str) -> np.ndarray:
    if padding == "same":  # TF: output ceil(n / stride), padding split with the extra cell at the end
        pads = []
        for n in x.shape[1:3]:
            total = max((-(-n // stride) - 1) * stride + size - n, 0)
            pads.append((total // 2, total - total // 2))
        x = np.pad(x, [(0, 0), *pads, (0, 0)], constant_values=-np.inf)
    windows = sliding_window_view(x, (size, size), axis=(1, 2))[:, ::stride, ::stride]
    return windows.max(axis=(-1, -2))


def keras_softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def keras_rnet(x: np.ndarray, w: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """mtcnn/network/rnet.py, layer by layer, on NHWC input."""
    x = keras_maxpool(keras_prelu(keras_conv(x, w[0], w[1]), w[2]), 3, 2, "same")
    x = keras_maxpool(keras_prelu(keras_conv(x, w[3], w[4]), w[5]), 3, 2, "valid")
    x = keras_prelu(keras_conv(x, w[6], w[7]), w[8])
    x = x.transpose(0, 2, 1, 3).reshape(len(x), -1)  # Permute((2, 1, 3)) + Flatten
    x = keras_prelu(x @ w[9] + w[10], w[11])
    return x @ w[12] + w[13], keras_softmax(x @ w[14] + w[15])


def keras_onet(x: np.ndarray, w: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """mtcnn/network/onet.py, layer by layer, on NHWC input."""
    x = keras_maxpool(keras_prelu(keras_conv(x, w[0], w[1]), w[2]), 3, 2, "same")
    x = keras_maxpool(keras_prelu(keras_conv(x, w[3], w[4]), w[5]), 3, 2, "valid")
    x = keras_maxpool(keras_prelu(keras_conv(x, w[6], w[7]), w[8]), 2, 2, "same")
    x = keras_prelu(keras_conv(x, w[9], w[10]), w[11])
    x = x.transpose(0, 2, 1, 3).reshape(len(x), -1)
    x = keras_prelu(x @ w[12] + w[13], w[14])
    return x @ w[15] + w[16], x @ w[17] + w[18], keras_softmax(x @ w[19] + w[20])


def keras_pnet(x: np.ndarray, w: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    x = keras_maxpool(keras_prelu(keras_conv(x, w[0], w[1]), w[2]), 2, 2, "same")
    x = keras_prelu(keras_conv(x, w[3], w[4]), w[5])
    x = keras_prelu(keras_conv(x, w[6], w[7]), w[8])
    return keras_conv(x, w[9], w[10]), keras_softmax(keras_conv(x, w[11], w[12]))


def _torch_outputs(net: str, x_nhwc: np.ndarray) -> list[np.ndarray]:
    with torch.inference_mode():
        outputs = load_net(net)(torch.from_numpy(x_nhwc).permute(0, 3, 1, 2))
    return [o.numpy() for o in outputs]


@pytest.mark.parametrize("net, size", [("rnet", 24), ("onet", 48)])
def test_dense_nets_match_keras_semantics(net, size):
    """Catches HWIO/OIHW, PReLU, same-padding pooling, Permute+Flatten ordering and softmax-axis mistakes."""
    weights = [w.astype(np.float64) for w in load_keras_arrays(net)]
    x = np.random.default_rng(1).normal(size=(3, size, size, 3)).astype(np.float32)
    expected = (keras_rnet if net == "rnet" else keras_onet)(x.astype(np.float64), weights)
    got = _torch_outputs(net, x)
    np.testing.assert_allclose(got[-1], expected[-1][:, 1], atol=1e-4)  # face probability
    for g, e in zip(got[:-1], expected[:-1]):
        np.testing.assert_allclose(g, e, atol=1e-4)


def test_pnet_matches_keras_semantics_on_odd_sizes():
    weights = [w.astype(np.float64) for w in load_keras_arrays("pnet")]
    x = np.random.default_rng(2).normal(size=(1, 17, 23, 3)).astype(np.float32)
    expected_reg, expected_prob = keras_pnet(x.astype(np.float64), weights)
    got_reg, got_prob = _torch_outputs("pnet", x)
    np.testing.assert_allclose(got_reg, expected_reg.transpose(0, 3, 1, 2), atol=1e-4)
    np.testing.assert_allclose(got_prob, expected_prob[..., 1], atol=1e-4)


@pytest.mark.parametrize("size, stride, n", [(3, 2, 7), (3, 2, 8), (2, 2, 5), (3, 1, 6)])
def test_same_maxpool_padding(size, stride, n):
    x = np.random.default_rng(3).normal(size=(1, n, n + 1, 2)).astype(np.float32)
    expected = keras_maxpool(x, size, stride, "same")
    got = KerasSameMaxPool2d(size, stride)(torch.from_numpy(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    np.testing.assert_array_equal(got, expected)


def test_weight_files_load_into_all_nets():
    for net in ("pnet", "rnet", "onet"):
        load_net(net)  # raises on any shape mismatch or left-over array


def test_the_mesh_drops_a_weak_background_detection_but_keeps_every_face(media_photo) -> None:
    """BlazeFace's close-up net scores a building behind faceapi_happy's face 0.68; recognition asks the Face
    Mesh about such weak detections and keeps only the face (`face_mesh.confirmed`)."""
    from fer_core.detection import face_mesh
    from fer_core.recognizer import Recognizer

    if not face_mesh.available():
        pytest.skip("no converted Face Mesh in fer_core/weights")
    rgb = media_photo("faceapi_happy.jpg")
    raw = create_detector("blazeface").detect(rgb)
    kept = Recognizer(detector=create_detector("blazeface")).detect(rgb)
    assert len(raw) == 2 and min(d.score for d in raw) < face_mesh.CONFIRM_BELOW
    assert len(kept) == 1 and match_photo(kept, PHOTO_FACES["faceapi_happy.jpg"])[:2] == (1, 0)
    for photo in ("faceapi_bbt1.jpg", "faceapi_bbt2.jpg"):
        group = media_photo(photo)
        assert len(face_mesh.confirmed(group, create_detector("blazeface").detect(group))) == len(PHOTO_FACES[photo])
