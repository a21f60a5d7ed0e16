"""What the dashboard shows, without the dashboard: the uncertain rule, table rows and exports, model-card
readers, the figures, the sample photo, and the sidebar's method list against the method registry."""
from __future__ import annotations

import csv
import io
import json
import re

import numpy as np
import pytest

from fer_core import card as cards
from fer_core.evaluation.uncertainty import UNCERTAIN_MARGIN, UNCERTAIN_TOP, is_uncertain, uncertainty
from fer_core.labels import CLASSES
from fer_core.recognizer import FaceResult
from fer_core.report import PhotoResult, analyze_photo, png_bytes, result_rows, to_csv, to_json


def probs(**top: float) -> dict[str, float]:
    """All classes, the given ones set and the rest sharing what is left equally."""
    rest = (1 - sum(top.values())) / (len(CLASSES) - len(top))
    return {c: top.get(c, rest) for c in CLASSES}


def face(p: dict[str, float]) -> FaceResult:
    return FaceResult(box=(10.4, 20.6, 30, 30), score=0.99, landmarks=None, probs=p,
                      crop=np.zeros((112, 112, 3), np.uint8))


SURE = min(max(UNCERTAIN_TOP + 0.1, UNCERTAIN_MARGIN + 0.25), 0.99)  # above the top rule, room for a margin
# A top score just above UNCERTAIN_TOP can pass the margin rule only if even an even spread of the rest leaves the
# runner-up far enough behind; with a low top threshold the margin rule alone decides such faces.
JUST_ABOVE = UNCERTAIN_TOP + 0.01
TOP_ALONE = JUST_ABOVE - (1 - JUST_ABOVE) / (len(CLASSES) - 1) > UNCERTAIN_MARGIN


@pytest.mark.parametrize("p, unsure", [
    (probs(happiness=0.9), False),
    (probs(happiness=UNCERTAIN_TOP - 0.01), True),  # top too low
] + ([(probs(happiness=JUST_ABOVE), False)] if TOP_ALONE else []) + ([
    (probs(happiness=SURE, neutral=SURE - UNCERTAIN_MARGIN + 0.01), True),  # runner-up too close
    (probs(happiness=SURE, neutral=SURE - UNCERTAIN_MARGIN - 0.01), False),
] if UNCERTAIN_MARGIN > 0 else []))
def test_uncertain_rule(p: dict[str, float], unsure: bool) -> None:
    assert is_uncertain(p) is unsure
    assert (uncertainty(p) is not None) is unsure


def test_uncertain_rule_is_the_one_chosen_on_valid_for_the_default_model() -> None:
    from fer_core.model.catalog import BUILTIN_DIR, DEFAULT_MODEL

    card = json.loads((BUILTIN_DIR / f"{DEFAULT_MODEL}.json").read_text())
    if "uncertainty" not in card:
        pytest.skip("the default model's card has no 'uncertainty' section yet")
    rule = card["uncertainty"]
    assert rule["chosen_on"] == "FER2013Valid"
    assert (UNCERTAIN_TOP, UNCERTAIN_MARGIN) == (rule["top_below"], rule["margin_below"])


def test_fit_rule_flags_the_fewest_faces_that_keep_the_rest_accurate() -> None:
    from fer_core.evaluation.uncertainty import fit_rule, rule_figures

    # 100 faces: confident ones (top 0.9) are all right, middling ones (0.6) right 50%, low (0.4) right 20%.
    rows, labels = [], []
    for top, n, n_right in ((0.9, 60, 60), (0.6, 20, 10), (0.4, 20, 4)):
        for i in range(n):
            p = np.full(8, (1 - top) / 7)
            p[0] = top
            rows.append(p)
            labels.append(0 if i < n_right else 1)
    probs_, labels_ = np.array(rows), np.array(labels)
    rule = fit_rule(probs_, labels_, target_accuracy=0.9)
    assert rule["valid"]["accuracy_unflagged"] >= 0.9
    assert rule["valid"]["flagged_share"] == pytest.approx(0.4)  # exactly the 0.6 and 0.4 faces
    assert 0.6 < rule["top_below"] <= 0.9
    assert rule_figures(probs_, labels_, 0.3, 0.0)["flagged_share"] == 0.0


def test_rows_and_exports_cover_faces_errors_and_empty_photos() -> None:
    results = [PhotoResult("a.jpg", "d1", np.zeros((50, 60, 3), np.uint8),
                           [face(probs(happiness=0.9)), face(probs(anger=UNCERTAIN_TOP - 0.01))]),
               PhotoResult("broken.jpg", "d2", error="the file is damaged"),
               PhotoResult("wall.png", "d3", np.zeros((5, 5, 3), np.uint8))]
    rows = result_rows(results)
    assert [(r["file"], r["face"], r["expression"], r["uncertain"]) for r in rows] == [
        ("a.jpg", 1, "happiness", False), ("a.jpg", 2, "anger", True),
        ("broken.jpg", None, None, None), ("wall.png", None, None, None)]
    assert rows[2]["note"] == "the file is damaged" and rows[3]["note"] == "no face found"
    table = list(csv.DictReader(io.StringIO(to_csv(rows).decode())))
    assert len(table) == 4 and set(CLASSES) <= set(table[0]) and table[1]["uncertain"] == "True"
    doc = json.loads(to_json(results, model="m"))
    assert doc["model"] == "m" and doc["photos"][0]["faces"][1]["uncertain"] is True
    assert doc["photos"][1]["error"] and doc["photos"][0]["width"] == 60


def test_analyze_photo_reports_bad_input_instead_of_raising() -> None:
    class NoDetector:  # must never be reached for unreadable or oversized files
        def analyze_rgb(self, rgb):
            raise AssertionError("should not be called")

    assert "not an image" in analyze_photo(NoDetector(), "x.png", b"hello").error
    big = analyze_photo(NoDetector(), "big.png", b"0" * 2048, max_bytes=1024)
    assert "limit" in big.error and big.rgb is None


def test_png_bytes_round_trip() -> None:
    import cv2

    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 255  # red
    back = cv2.imdecode(np.frombuffer(png_bytes(rgb), np.uint8), cv2.IMREAD_COLOR)
    assert back.shape == (4, 5, 3) and back[0, 0].tolist() == [0, 0, 255]  # BGR on disk: still red


def test_card_readers_cope_with_an_empty_card() -> None:
    assert cards.scores({}) is None
    assert cards.reliability({}) is None
    assert cards.latency_rows(None) is None
    assert cards.faithfulness_rows({}) is None


def test_card_readers_on_measured_sections() -> None:
    card = {"metrics": {"valid": {"accuracy": 0.8}},
            "metrics_test": {"accuracy": 0.7, "reliability": [{"lo": 0, "hi": 1, "confidence": 0.5,
                                                               "accuracy": 0.4, "count": 3}]},
            "latency": {"classify_ms_b1": 2.0, "detect_ms_640x480": {"mtcnn": 12, "haar": 30, "default": 12},
                        "default_detector": "mtcnn", "analyze_ms_1280x720": 80, "analyze_faces": 3},
            "explain_bench": {"gradcam@layer3": {"method": "gradcam", "ms": 5, "deletion_auc": 0.2,
                                                 "insertion_auc": 0.5, "faithful_share": 0.3, "n": 8}}}
    found = cards.scores(card)
    assert found.split == "test" and found.held_out and found.metrics["accuracy"] == 0.7
    assert cards.scores({"metrics": {"valid": {"accuracy": 0.8}}}).split == "validation"
    assert cards.reliability(card)[0]["count"] == 3
    assert cards.confusion_shares([[1, 3], [0, 0]]) == [[0.25, 0.75], [0.0, 0.0]]
    rows = dict(cards.latency_rows(card["latency"]))
    assert "Find faces in a 640x480 video frame, mtcnn (default)" in rows and len(rows) == 4
    assert cards.faithfulness_rows(card)[0]["method"] == "Grad-CAM (layer3)"


def test_figures_build() -> None:
    from ui.figures import confusion_heatmap, recall_bars, reliability_diagram

    assert len(recall_bars({"neutral": 0.9}).data) == 1
    assert len(confusion_heatmap([[1.0]], [[3]], ["neutral"]).data) == 1
    assert len(reliability_diagram([{"lo": 0, "hi": 1, "confidence": .5, "accuracy": .4, "count": 3}]).data) == 2


def test_score_bars_are_text_rows_highest_first() -> None:
    """The face cards' scores: plain HTML rows (name, bar, percent), readable without a chart library."""
    from fer_core.labels import hex_color
    from ui.figures import score_bars

    html = score_bars(probs(happiness=0.9), "Score <for> each")
    names = re.findall(r'text-align:right">([a-z]+)</span>', html)
    assert names[0] == "happiness" and sorted(names) == sorted(CLASSES)
    assert re.findall(r"tabular-nums\">(\d+)%", html)[0] == "90"
    assert "width:90.0%" in html and hex_color("happiness") in html
    assert "Score &lt;for&gt; each" in html and "<for>" not in html  # titles are escaped
    assert 'aria-label="Score &lt;for&gt; each: happiness 90%' in html


def test_sample_photo_ships_with_an_installed_package() -> None:
    pytest.importorskip("skimage")
    from fer_core.imageio import load_image
    from fer_core.samples import HOME_SAMPLE, SAMPLES, sample_photo_png, sample_photo_rgb

    rgb = sample_photo_rgb()
    assert rgb.ndim == 3 and rgb.shape[2] == 3 and min(rgb.shape[:2]) >= 256 and HOME_SAMPLE in SAMPLES
    assert np.array_equal(load_image(sample_photo_png()), rgb)


def test_posed_photos_read_as_intended_but_unsure_do_not_count() -> None:
    gen = {"posed_photos": {
        "happy": {"expected": "happiness", "predicted": "happiness", "confidence": 0.97},
        "sad": {"expected": "sadness", "predicted": "sadness", "confidence": UNCERTAIN_TOP - 0.1},
        "angry": {"expected": "anger", "predicted": "anger", "confidence": 0.9, "uncertain": True},  # runner-up close
        "disgusted": {"expected": "disgust", "predicted": "neutral", "confidence": 0.4}}}
    read = {r["photo"]: r["read"] for r in cards.posed_rows(gen)}
    assert read == {"happy": cards.POSED_SURE, "sad": cards.POSED_UNSURE, "angry": cards.POSED_UNSURE,
                    "disgusted": cards.POSED_MISSED}
    assert cards.posed_rows({}) is None


def test_posed_rows_of_the_shipped_card_follow_the_uncertain_rule() -> None:
    from fer_core.model.checkpoint import load_model

    card = load_model(None).card
    rows = cards.posed_rows(card.get("generalisation"))
    if rows is None:
        pytest.skip("the built-in model's card has no media-check")
    posed = card["generalisation"]["posed_photos"]
    for r in rows:
        entry = posed[r["photo"]]
        if r["read"] == cards.POSED_SURE:  # counted as read as intended: right, and not what the app calls unsure
            assert entry["predicted"] == entry["expected"] and entry["confidence"] >= UNCERTAIN_TOP
            assert not entry.get("uncertain")


def test_speed_figures_say_where_they_were_measured() -> None:
    said = cards.latency_source({"threads": 2, "measured_on": "2026-12-01", "processor": "AMD EPYC"})
    assert "2026-12-01" in said and "AMD EPYC" in said and "not on this computer" in said
    assert "does not record when" in cards.latency_source({"threads": 2})
    assert cards.latency_source(None) is None


def test_messages_list_exactly_the_photo_types_the_uploaders_accept() -> None:
    """One constant: the uploaders' types and every message that lists formats (no TIFF or GIF, which the
    uploaders refuse)."""
    from fer_core.imageio import PHOTO_FORMATS, PHOTO_TYPES, ImageLoadError, load_image
    from ui.photo_view import PHOTO_FORMATS as SHOWN_FORMATS
    from ui.photo_view import PHOTO_TYPES as UPLOADER_TYPES

    assert UPLOADER_TYPES == list(PHOTO_TYPES) and SHOWN_FORMATS == PHOTO_FORMATS
    named = {w.strip().lower() for w in PHOTO_FORMATS.replace(" or ", ", ").split(",")}
    assert named == {"jpeg" if t in ("jpg", "jpeg") else t for t in PHOTO_TYPES}
    with pytest.raises(ImageLoadError) as err:
        load_image(b"this is not a picture")
    assert PHOTO_FORMATS in str(err.value) and "TIFF" not in str(err.value) and "GIF" not in str(err.value)


def test_default_heatmap_method_is_the_one_measured_most_faithful() -> None:
    """The sidebar's default is, on the built-in model's own `explain-bench` measurement (its card), among the
    methods whose maps pass the trust check most often (within the noise of the faces measured), and the
    fastest of those: a measurement, not a guess."""
    from fer_core.bench.explain import faithful_within_noise
    from fer_core.explain.registry import DEFAULT_METHOD
    from fer_core.model.checkpoint import load_model

    tied = faithful_within_noise(load_model().card["explain_bench"])
    assert tied and tied[0] == DEFAULT_METHOD, tied


def test_methods_within_noise_of_the_most_faithful_are_ranked_fastest_first() -> None:
    from fer_core.bench.explain import faithful_within_noise

    table = {"slow": {"faithful_share": 0.60, "ms": 230.0, "n": 200},
             "fast": {"faithful_share": 0.585, "ms": 63.0, "n": 200},
             "weak": {"faithful_share": 0.34, "ms": 60.0, "n": 200},
             "gradcam@layer2": {"method": "gradcam", "faithful_share": 0.9, "ms": 1.0, "n": 200}}
    assert faithful_within_noise(table) == ["fast", "slow"]
    table["fast"]["n"] = table["slow"]["n"] = table["weak"]["n"] = 20000  # so many faces that 1.5 points is real
    assert faithful_within_noise(table) == ["slow"]


def test_face_networks_are_described_from_their_cards() -> None:
    rows = cards.face_networks()
    if not rows:
        pytest.skip("no converted MediaPipe networks in fer_core/weights/mediapipe")
    assert {r["network"] for r in rows} >= {"Face Mesh (468 points)", "BlazeFace, full range"}
    assert all(r["licence"] == "Apache-2.0" and r["from"].endswith(".tflite") for r in rows)

