"""Facial movements measured on the mesh, checked on real faces: smiles raise the mouth corners, surprise the
brows and the open mouth; the words name movements and action units, never feelings."""
from __future__ import annotations

import json

import av
import numpy as np
import pytest

from fer_core.detection import face_mesh
from fer_core.detection.movements import (
    MOVEMENTS,
    REFERENCE_PATH,
    Reference,
    measure,
    neutral_reference,
    notable,
    raw_measures,
)
from fer_core.recognizer import Recognizer
from tests.conftest import require_shared

pytestmark = pytest.mark.skipif(not face_mesh.available(), reason="no converted Face Mesh in fer_core/weights")
FEELINGS = ("happy", "sad", "angry", "afraid", "fear", "disgust", "emotion", "feel", "surpris", "contempt")


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer()


def test_the_reference_is_measured_on_fer_neutral_faces_by_a_command() -> None:
    doc = json.loads(REFERENCE_PATH.read_text())
    assert doc["command"].startswith("fer-lens movement-reference")
    assert "FER+ neutral" in doc["name"] and doc["faces_measured"] >= 0.8 * doc["faces_tried"] >= 100
    reference = neutral_reference()
    assert set(reference.centre) == set(reference.spread) == {m.key for m in MOVEMENTS}
    assert all(v > 0 for v in reference.spread.values())


def _photo(recognizer: Recognizer, name: str) -> dict[str, float]:
    face = recognizer.analyze(str(require_shared("media", "photos", f"faceapi_{name}.jpg")))[0]
    assert face.mesh is not None
    return face.movements


def test_posed_photos_move_what_the_expression_moves(recognizer: Recognizer) -> None:
    neutral, happy, surprised = (_photo(recognizer, n) for n in ("neutral", "happy", "surprised"))
    assert happy["mouth_corners_raised"] > neutral["mouth_corners_raised"]
    assert happy["lips_stretched"] > neutral["lips_stretched"] + 0.1  # a broad smile pulls the corners apart
    assert surprised["mouth_open"] > neutral["mouth_open"] + 0.2
    assert surprised["brows_raised"] > neutral["brows_raised"] and surprised["brows_raised"] > 0
    assert surprised["eyes_widened"] > neutral["eyes_widened"]


def _clip(recognizer: Recognizer, name: str) -> tuple[list[str], dict[str, np.ndarray]]:
    labels, values = [], []
    with av.open(str(require_shared("media", "videos", name))) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i % 3:
                continue
            faces = recognizer.analyze_rgb(frame.to_ndarray(format="rgb24"))
            if faces and faces[0].movements:
                labels.append(faces[0].label)
                values.append(faces[0].movements)
    return labels, {m.key: np.array([v[m.key] for v in values]) for m in MOVEMENTS}


@pytest.fixture(scope="module")
def clips(recognizer: Recognizer) -> dict[str, tuple[np.ndarray, dict[str, np.ndarray]]]:
    found = {}
    for name in ("liveportrait_d3.mp4", "liveportrait_d18.mp4", "liveportrait_d6.mp4"):
        labels, moves = _clip(recognizer, name)
        found[name] = (np.array(labels), moves)
    return found


@pytest.mark.parametrize("clip", ["liveportrait_d3.mp4", "liveportrait_d18.mp4"])
def test_along_a_clip_smiles_raise_the_mouth_corners(clips, clip) -> None:
    labels, moves = clips[clip]
    neutral, happy = labels == "neutral", labels == "happiness"
    assert neutral.sum() >= 5 and happy.sum() >= 2, dict(zip(*np.unique(labels, return_counts=True)))
    assert moves["mouth_corners_raised"][happy].mean() > moves["mouth_corners_raised"][neutral].mean()
    assert moves["lips_stretched"][happy].mean() > moves["lips_stretched"][neutral].mean()


@pytest.mark.parametrize("clip", ["liveportrait_d3.mp4", "liveportrait_d18.mp4", "liveportrait_d6.mp4"])
def test_along_a_clip_surprise_opens_the_mouth(clips, clip) -> None:
    labels, moves = clips[clip]
    neutral, surprise = labels == "neutral", labels == "surprise"
    assert neutral.sum() >= 5 and surprise.sum() >= 5
    assert moves["mouth_open"][surprise].mean() > moves["mouth_open"][neutral].mean() + 0.1


# d18's "surprise" is an open O mouth under level brows (looked at: its most confident surprise and neutral
# frames side by side, mesh drawn), and the measure says so; d3 and d6 raise the brows with it.
@pytest.mark.parametrize("clip", ["liveportrait_d3.mp4", "liveportrait_d6.mp4"])
def test_along_a_clip_surprise_raises_the_brows(clips, clip) -> None:
    labels, moves = clips[clip]
    neutral, surprise = labels == "neutral", labels == "surprise"
    assert moves["brows_raised"][surprise].mean() > moves["brows_raised"][neutral].mean()


def test_words_name_movements_and_action_units_never_feelings(recognizer: Recognizer) -> None:
    said = []
    for name in ("happy", "surprised", "sad", "angry", "fearful", "disgusted"):
        found = notable(_photo(recognizer, name))
        said += [words for _, _, words in found]
        assert all(abs(value) > 0 for _, value, _ in found)
    assert said, "no movement stood out on any posed photo"
    assert all("like AU" in w or w in {m.lowered for m in MOVEMENTS} for w in said)
    assert not any(f in w.lower() for w in said for f in FEELINGS), said


def test_a_resting_face_reference_zeroes_that_face(recognizer: Recognizer) -> None:
    face = recognizer.analyze(str(require_shared("media", "photos", "faceapi_neutral.jpg")))[0]
    raw = raw_measures(face.mesh)
    resting = Reference.from_samples("your resting face", [raw, raw], spread=neutral_reference().spread)
    assert all(abs(v) < 1e-6 for v in measure(face.mesh, resting).values())
    assert notable(measure(face.mesh, resting), resting) == []
    assert measure(None) is None
