"""The Face Mesh on real faces: it fits every face of the group photos, agrees with MTCNN's landmarks, levels
and frames faces for the classifier, gives head pose, and refuses what is not a face without crashing."""
from __future__ import annotations

import av
import numpy as np
import pytest

from fer_core.detection import face_mesh
from fer_core.detection.align import FER_TEMPLATE, landmark_transform
from fer_core.detection.base import Detection
from fer_core.detection.head_pose import head_pose, mesh_head_pose
from fer_core.detection.registry import create_detector
from fer_core.recognizer import Recognizer
from tests.conftest import require_shared

pytestmark = pytest.mark.skipif(not face_mesh.available(), reason="no converted Face Mesh in fer_core/weights")


@pytest.fixture(scope="module")
def mtcnn():
    return create_detector("mtcnn")


@pytest.mark.parametrize("photo", ["faceapi_bbt1.jpg", "faceapi_bbt2.jpg", "faceapi_happy.jpg"])
def test_every_face_gets_a_mesh_that_agrees_with_mtcnn(mtcnn, media_photo, photo) -> None:
    rgb = media_photo(photo)
    detections = mtcnn.detect(rgb)
    meshes = face_mesh.fit(rgb, detections)
    assert detections and all(m is not None for m in meshes), "a frontal face without a mesh"
    for d, m in zip(detections, meshes):
        assert m.points.shape == (468, 3) and m.points.dtype == np.float32 and m.presence > 0.9
        x, y, w, h = d.box
        inside = (m.points[:, 0] > x - w) & (m.points[:, 0] < x + 2 * w) & (m.points[:, 1] > y - h)
        assert inside.all(), "mesh points far outside the face"
        spacing = np.linalg.norm(d.landmarks[1] - d.landmarks[0])
        # eye centres, nose tip and mouth corners of two independent networks, within a quarter of the eye spacing
        assert np.linalg.norm(m.five_landmarks() - d.landmarks, axis=1).max() < 0.25 * spacing


def test_mesh_alignment_levels_the_eyes_onto_the_template(media_photo) -> None:
    rgb = media_photo("faceapi_happy.jpg")  # a visibly tilted head
    face = Recognizer().analyze_rgb(rgb)[0]
    assert face.mesh is not None
    five = face_mesh.Mesh(face.mesh, 1.0).five_landmarks()
    matrix = landmark_transform(five, 112)
    mapped = five @ matrix[:, :2].T + matrix[:, 2]
    left, right = mapped[0], mapped[1]
    assert abs(left[1] - right[1]) < 2.0, "eyes not level in the crop"
    # the eyes land on the template; a broad smile's mouth corners cannot all (the fit is a similarity)
    assert np.abs(mapped[:2] / 112 - FER_TEMPLATE[:2]).max() < 0.04 and np.abs(mapped / 112 - FER_TEMPLATE).max() < 0.1
    assert abs(np.degrees(np.arctan2(*(five[1] - five[0])[::-1]))) > 3, "the photo should be tilted to begin with"


def test_not_a_face_tiny_and_covered_faces_never_crash(media_photo, mtcnn) -> None:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    fake = [Detection((200.0, 150.0, 160.0, 160.0), 0.9), Detection((10.0, 10.0, 6.0, 6.0), 0.9)]
    assert face_mesh.fit(noise, fake) == [None, None], "noise or a 6 px box must give no mesh"
    assert face_mesh.fit(np.zeros((1, 1, 3), np.uint8), [Detection((0.0, 0.0, 1.0, 1.0), 0.5)]) == [None]
    rgb = media_photo("faceapi_sad.jpg").copy()
    d = mtcnn.detect(rgb)[0]
    x, y, w, h = (int(v) for v in d.box)
    rgb[y: y + h, x: x + w] = 0  # the whole face covered
    covered = face_mesh.fit(rgb, [d])[0]
    assert covered is None or covered.presence < 0.9
    faces = Recognizer(detector=create_detector("mtcnn")).analyze_rgb(rgb, [d])
    assert len(faces) == 1 and abs(sum(faces[0].probs.values()) - 1) < 1e-4, "still scored without a mesh"
    half = media_photo("faceapi_surprised.jpg")
    d = mtcnn.detect(half)[0]
    cut = half[:, : int(d.box[0] + d.box[2] / 2)]  # only the face's left half in the picture, as at a frame edge
    for mesh in face_mesh.fit(cut, [d]):  # the box runs out of the image: a mesh or none, never a crash
        assert mesh is None or np.isfinite(mesh.points).all()
    huge = np.kron(media_photo("faceapi_surprised.jpg"), np.ones((8, 8, 1), np.uint8))  # ~4000 px wide
    big = Recognizer().analyze_rgb(huge)
    assert len(big) == 1 and big[0].mesh is not None


def _clip_frames(name: str, every: int = 5):
    path = require_shared("media", "videos", name)
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i % every == 0:
                yield frame.to_ndarray(format="rgb24")


def test_head_pose_from_the_mesh_agrees_with_the_five_point_fit_and_is_steadier(mtcnn) -> None:
    """Along the three LivePortrait clips: both poses follow an independent cue (how far MTCNN's nose sits from
    the middle of its eyes), they agree on "facing the camera", and the mesh's pose jitters less."""
    yaws: dict[str, list[np.ndarray]] = {"mesh": [], "five": []}
    facing, cue = [], []
    for clip in ("liveportrait_d6.mp4", "liveportrait_d3.mp4", "liveportrait_d18.mp4"):
        seq: dict[str, list[float]] = {"mesh": [], "five": []}
        for rgb in _clip_frames(clip, every=3):
            dets = mtcnn.detect(rgb)
            mesh = face_mesh.fit(rgb, dets[:1])[0] if dets else None
            size = (rgb.shape[1], rgb.shape[0])
            five = head_pose(dets[0].landmarks, size) if dets else None
            from_mesh = mesh_head_pose(None if mesh is None else mesh.points, size)
            if five is None or from_mesh is None:
                continue
            seq["mesh"].append(from_mesh.yaw)
            seq["five"].append(five.yaw)
            facing.append(five.facing_camera == from_mesh.facing_camera)
            eyes = dets[0].landmarks[:2]
            cue.append((dets[0].landmarks[2, 0] - eyes[:, 0].mean()) / (eyes[1, 0] - eyes[0, 0]))
        for k in yaws:
            yaws[k].append(np.array(seq[k]))
    every = {k: np.concatenate(v) for k, v in yaws.items()}
    assert len(cue) > 150
    for k, v in every.items():
        assert np.corrcoef(v, cue)[0, 1] > 0.6, f"{k} yaw does not follow the nose"
    assert np.mean(facing) > 0.85, "the two poses disagree on facing the camera"
    jitter = {k: np.median(np.concatenate([np.abs(np.diff(x)) for x in v])) for k, v in yaws.items()}
    assert jitter["mesh"] < jitter["five"], jitter
