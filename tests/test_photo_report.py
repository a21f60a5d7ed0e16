"""The printable photo report on a real group photo: every picture has alt text, the notice is there, one
section per face with its heatmap caption and trust note, faces are pixelated by default (checked on the
pixels), and the word "emotion" never appears."""
from __future__ import annotations

import base64
import io
from html.parser import HTMLParser

import cv2
import numpy as np
import pytest
from PIL import Image

from fer_core.batch.html_report import NOTICE_TITLE
from fer_core.explain.attribution import check_faithfulness, explain
from fer_core.photo_report import photo_report_html
from fer_core.report import analyze_photo
from tests.conftest import require_shared

pytestmark = pytest.mark.filterwarnings("ignore:Setting backward hooks on ReLU")


class Pictures(HTMLParser):
    """Every <img> (its attributes) and every face section's number, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str]] = []
        self.sections: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs)
        elif tag == "section" and "face" in (attrs.get("class") or "").split():
            self.sections.append(attrs.get("data-face"))


def parse(html: bytes) -> Pictures:
    p = Pictures()
    p.feed(html.decode("utf-8"))
    return p


def decode(src: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("RGB"), np.float32)


@pytest.fixture(scope="module")
def analysed():
    from fer_core.recognizer import Recognizer

    data = require_shared("media", "photos", "faceapi_bbt2.jpg").read_bytes()
    recognizer = Recognizer()
    result = analyze_photo(recognizer, "faceapi_bbt2.jpg", data)
    assert len(result.faces) >= 2, "the group photo should give several faces"
    model = recognizer.loaded
    expls = [explain(model, f.crop, "occlusion") for f in result.faces]
    expls[0] = check_faithfulness(model, result.faces[0].crop, expls[0])  # one map checked, as on the page
    return result, model, expls


def fine_detail(rgb: np.ndarray) -> np.ndarray:
    """What makes a face recognisable at this size: the picture minus a blurred copy of itself."""
    grey = rgb.mean(axis=2)
    return grey - cv2.GaussianBlur(grey, (0, 0), 2)


def inner(box, shrink: float = 0.25) -> tuple[slice, slice]:
    """The middle of a face box (clear of its outline and label), as row and column slices."""
    x, y, w, h = box
    rows = slice(int(y + shrink * h), int(y + (1 - shrink) * h))
    return rows, slice(int(x + shrink * w), int(x + (1 - shrink) * w))


def test_report_structure_alt_text_notice_and_words(analysed) -> None:
    result, model, expls = analysed
    html = photo_report_html(result.rgb, result.faces, expls, model.card, name=result.name)
    found = parse(html)
    text = html.decode("utf-8")
    assert found.images and all(img.get("alt", "").strip() for img in found.images), "every picture needs alt text"
    assert NOTICE_TITLE in text and "AI Act" in text
    assert found.sections == [str(i) for i in range(1, len(result.faces) + 1)], "one section per face, in order"
    for i, face in enumerate(result.faces, 1):
        assert f"Face {i}: {face.label} ({face.confidence:.0%})" in text
    assert text.count("How far to trust this map") == 1, "the one checked map carries its trust note"
    assert text.count("had not run yet") == len(result.faces) - 1
    assert model.card["name"] in text
    assert "emotion" not in text.lower()


def test_faces_are_pixelated_by_default_and_clear_when_unticked(analysed) -> None:
    result, model, expls = analysed
    original = result.rgb.astype(np.float32)
    assert max(original.shape[:2]) <= 1400, "this photo is not shrunk, so its pixels line up with the report's"
    reports = {blur: parse(photo_report_html(result.rgb, result.faces, expls, model.card, **kwargs))
               for blur, kwargs in ((True, {}), (False, {"blur": False}))}
    photos = {blur: decode(p.images[0]["src"]) for blur, p in reports.items()}
    assert all(p.shape == original.shape for p in photos.values())
    h, w = original.shape[:2]
    faces = np.zeros((h, w), bool)
    for face in result.faces:
        x, y, fw, fh = face.box
        faces[max(0, int(y - fh)):int(y + 2 * fh), max(0, int(x - fw)):int(x + 2 * fw)] = True
    background = np.abs(photos[True] - original)[~faces].mean()
    assert background < 6, "away from the faces the photo is the photo (JPEG aside)"
    for face in result.faces:
        rows, cols = inner(face.box)
        mine = fine_detail(original[rows, cols])
        blurred = np.corrcoef(mine.ravel(), fine_detail(photos[True][rows, cols]).ravel())[0, 1]
        clear = np.corrcoef(mine.ravel(), fine_detail(photos[False][rows, cols]).ravel())[0, 1]
        assert blurred < 0.3, f"face at {face.box} keeps its detail ({blurred:.2f}): it is not pixelated"
        assert clear > 0.7, f"unticked, the face at {face.box} is shown as it is ({clear:.2f})"
    crops = [img for img in reports[True].images if "as the model saw it" in img["alt"]]
    assert not crops, "a blurred report must not show the faces' crops either"
    assert len([img for img in reports[False].images if "as the model saw it" in img["alt"]]) == len(result.faces)


def test_a_photo_without_faces_still_reports(analysed) -> None:
    _, model, _ = analysed
    grey = np.full((240, 320, 3), 200, np.uint8)
    html = photo_report_html(grey, [], [], model.card, name="wall.png")
    found = parse(html)
    assert found.sections == [] and "No face was found" in html.decode()
    assert all(img["alt"].strip() for img in found.images) and NOTICE_TITLE in html.decode()
