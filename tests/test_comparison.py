"""Plain words for a comparison, on real faces and the two shipped full-precision models: the gap in points is
the one between the printed percentages, a disagreement says "neither is the truth", and a face compared
with itself reads as agreement."""
from __future__ import annotations

import pytest

from fer_core.comparison import CLOSE_POINTS, compare_faces, compare_models, points
from fer_core.model.catalog import builtin_models
from fer_core.report import analyze_photo
from tests.conftest import require_shared

SECOND = "fer-resnet10t-cbam-v1"


@pytest.fixture(scope="module")
def readings():
    """Every face of the shared group photos: (scores under the default model, under the second model)."""
    if SECOND not in builtin_models():
        pytest.skip(f"{SECOND} is not shipped")
    from fer_core.recognizer import Recognizer

    first = Recognizer()
    second = Recognizer(SECOND, detector=first.detector)
    out = []
    for name in ("faceapi_bbt1.jpg", "faceapi_bbt2.jpg", "faceapi_disgusted.jpg"):
        result = analyze_photo(first, name, require_shared("media", "photos", name).read_bytes())
        for face in result.faces:
            p = second.classify_crops(face.crop[None])[0]
            out.append((face.probs, dict(zip(second.labels, map(float, p)))))
    return out


def test_models_gap_is_in_printed_points_and_never_claims_truth(readings) -> None:
    seen_disagreement = False
    for a, b in readings:
        d = compare_models(a, b, "first", "second")
        top_a = max(a, key=a.get)
        assert d.gap == abs(points(a[top_a]) - points(b[top_a]))
        assert d.widest_gap == max(abs(points(a[c]) - points(b[c])) for c in a)
        assert f"{points(a[top_a])}%" in d.text
        if d.widest_gap >= CLOSE_POINTS:
            seen_disagreement = True
            gap, on = (d.gap, top_a) if d.gap >= CLOSE_POINTS else (d.widest_gap, d.widest)
            assert f"**The two models disagree by {gap} points on {on}; neither is the truth.**" in d.text
        else:
            assert "broadly agree" in d.text
        assert ("different answers" in d.text) == (top_a != max(b, key=b.get))
        assert "emotion" not in d.text.lower()
    assert seen_disagreement, "among these faces the two models should disagree somewhere"


def test_a_face_compared_with_itself_agrees(readings) -> None:
    a, _ = readings[0]
    d = compare_models(a, a, "first", "first again")
    assert d.gap == 0 and d.same_answer and "broadly agree" in d.text
    f = compare_faces(a, a)
    assert f.widest_gap == 0 and "scores are close" in f.text and "not how the two people feel" in f.text


def test_two_faces_name_the_expression_they_differ_on_most(readings) -> None:
    (a, _), (b, _) = readings[0], readings[-1]
    d = compare_faces(a, b, "Face A", "Face B")
    if d.widest_gap >= CLOSE_POINTS:
        higher = "Face A" if a[d.widest] > b[d.widest] else "Face B"
        assert f"They differ most on {d.widest}: {higher} scores {d.widest_gap} points higher" in d.text
    assert f"**{max(a, key=a.get)}**" in d.text and f"**{max(b, key=b.get)}**" in d.text
