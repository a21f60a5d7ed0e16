"""Every dashboard page run headlessly with Streamlit's AppTest through app.py's navigation: it starts, it
shows the key texts, the Photo page really analyses photos (chart, heatmap, caption, trust note), bad files
get friendly messages while the good ones still show, and reruns reuse the cached detections."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from fer_core.detection.registry import DEFAULT_DETECTOR
from fer_core.evaluation.uncertainty import UNCERTAIN_MARGIN, UNCERTAIN_TOP
from fer_core.imageio import PHOTO_FORMATS
from fer_core.model.catalog import DEFAULT_MODEL, int8_twin
from fer_core.model.checkpoint import resolve_model_path
from fer_core.recognizer import Recognizer
from tests.app.app_support import blank_png, full_card_copy, score_charts
from tests.conftest import REPO, require_shared

APP = str(REPO / "app.py")
TIMEOUT = 300  # seconds per run: the first Photo run loads the model and the detector on a busy CPU

pytestmark = pytest.mark.filterwarnings("ignore:Setting backward hooks on ReLU")


def texts(at: AppTest) -> str:
    """All the words on the page, lower-cased, for loose "does it say X" checks."""
    parts = [e.value for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning",
                                  "error", "success") for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts).lower()


def test_home_explains_privacy_and_responsible_use(app: AppTest) -> None:
    at = app.run()
    assert not at.exception
    words = texts(at)
    assert "facial expression" in words
    assert "no photo leaves" in words and "nothing is saved" in words
    assert "not a feeling" in words and "fer2013" in words and "children" in words
    assert at.button(key="try-sample").label == "Analyse this sample photo"
    assert at.selectbox(key="detector").value == DEFAULT_DETECTOR and at.selectbox(key="method").value == "occlusion"


def test_sidebar_pickers_come_from_the_registries(app: AppTest) -> None:
    """The face-finder and heatmap pickers list every registered entry, labelled and explained by the
    registry itself (nothing kept in step by hand)."""
    from fer_core.detection.registry import DETECTORS
    from fer_core.explain.registry import METHODS

    at = app.run()
    for key, registry in (("detector", DETECTORS), ("method", METHODS)):
        picker = at.selectbox(key=key)
        assert picker.options == [entry.label for entry in registry.values()]
        assert all(entry.note in picker.help for entry in registry.values()), picker.help


def test_sample_button_runs_the_photo_analysis(app: AppTest) -> None:
    at = app.run()
    at.button(key="try-sample").click().run()
    assert not at.exception
    words = texts(at)
    assert "face 1:" in words, "the sample photo's face should get a result card"
    assert score_charts(at), "the score bars are missing"
    assert any("heatmap" in (c or "") for img in at.get("image") for c in _captions(img)), "no heatmap shown"
    assert "raised the score" in words or "reacts most" in words, "the heatmap caption is missing"
    assert "how far to trust this map" in words
    assert [b for b in at.get("download_button")], "no downloads offered"


def _captions(element) -> list[str]:
    return [img.caption for img in element.proto.imgs]


def test_uploads_good_bad_and_faceless_photos(app: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    happy = require_shared("media", "photos", "faceapi_happy.jpg").read_bytes()
    calls = []
    original = Recognizer.analyze_rgb
    monkeypatch.setattr(Recognizer, "analyze_rgb", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    at = app.run()
    at.switch_page("app_pages/photo.py").run()
    assert not at.exception and "choose one or more photos" in texts(at)
    at.file_uploader(key="uploads").set_value([
        ("happy.jpg", happy, "image/jpeg"),
        ("broken.jpg", happy[: len(happy) // 3], "image/jpeg"),
        ("notes.png", b"this is not a picture", "image/png"),
        ("wall.png", blank_png(), "image/png"),
    ]).run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error).lower()
    assert "broken.jpg" in errors and "damaged or incomplete" in errors
    assert "notes.png" in errors and "not an image" in errors
    assert any("no face was found in **wall.png**" in w.value.lower() for w in at.warning)
    assert at.dataframe, "the batch table is missing"
    assert "face 1: happiness" in texts(at)
    detections = len(calls)
    assert detections == 2  # happy.jpg and wall.png; the unreadable files never reach the detector

    at.selectbox(key=_key_of(at, "contrast-")).set_value("neutral").run()  # a new heatmap, same faces
    assert not at.exception and len(calls) == detections, "a rerun must reuse the cached detections"
    assert "rather than *neutral*" in texts(at) or "separates" in texts(at)


def _key_of(at: AppTest, prefix: str) -> str:
    return next(s.key for s in at.selectbox if s.key and s.key.startswith(prefix))


def test_model_page_without_measurements_says_not_measured(app: AppTest) -> None:
    at = app.run()
    at.switch_page("app_pages/model.py").run()
    assert not at.exception
    words = texts(at)
    assert "article 5(1)(f)" in words and "education institutions" in words and "medical or safety" in words
    assert "expression is not a feeling" in words
    assert "mediapipe" in words and "apache-2.0" in words, "the face networks' origin and licence"
    if "metrics_test" not in json.loads(resolve_model_path(None).with_suffix(".json").read_text()):
        assert "not measured yet" in words


def test_model_page_with_a_full_card(app: AppTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = resolve_model_path(None)
    monkeypatch.setenv("FER_LENS_MODEL", str(full_card_copy(tmp_path, source)))
    st.cache_resource.clear()  # the page must load the new card, not the model an earlier test cached
    try:
        app.session_state["technical"] = True  # every section, the training command and file names included
        at = app.run()
        at.switch_page("app_pages/model.py").run()
        assert not at.exception
        assert len(at.get("plotly_chart")) == 4  # recall, confusion, reliability, robustness
        assert len(at.dataframe) == 4  # real photos, heatmap faithfulness, speed, the face networks
        assert [m.label for m in at.metric][:2] == ["Accuracy", "Balanced score (macro-F1)"]
        words = texts(at)
        assert "not measured yet" not in words
        assert "python -m fer_core train" in " ".join(c.value for c in at.code)
    finally:
        st.cache_resource.clear()


def test_model_page_of_the_int8_twin_names_its_reference(app: AppTest) -> None:
    """The int8 export's page says what it is and shows its reference model's heatmap figures."""
    twin = int8_twin(DEFAULT_MODEL)
    if twin is None:
        pytest.skip(f"no int8 twin of {DEFAULT_MODEL} is shipped")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["model"] = twin
    at.session_state["technical"] = True  # model names and the engine are technical details
    at.switch_page("app_pages/model.py").run()
    assert not at.exception, at.exception
    words = texts(at)
    assert twin in words and "8-bit (int8) copy" in words and f"drawn by {DEFAULT_MODEL}" in words
    assert "python -m fer_core export --onnx --int8" in " ".join(c.value for c in at.code)
    assert len(at.dataframe) >= 1, "the heatmap faithfulness table (from the reference) is missing"
    heatmaps = next(d.value for d in at.dataframe if "faithful share" in d.value.columns)
    default = heatmaps[heatmaps["method"].str.endswith("(the default)")]
    # The row marked default is the method the reference's measurement ranks first: the fastest of those whose
    # maps pass the trust check as often as the best's, within the noise of the faces measured.
    from fer_core.bench.explain import faithful_within_noise
    from fer_core.explain.registry import METHODS

    reference = json.loads(resolve_model_path(DEFAULT_MODEL).with_suffix(".json").read_text())
    first = faithful_within_noise(reference["explain_bench"])[0]
    assert len(default) == 1 and default["method"].iloc[0].startswith(METHODS[first].title)
    assert 1 < heatmaps["faithful share"].max() <= 100, "shares are shown as whole percentages"


def test_robustness_page_changes_a_face_and_compares(app: AppTest) -> None:
    at = app.run()
    at.switch_page("app_pages/robustness.py").run()
    assert not at.exception
    words = texts(at)
    assert "why models fail" in words and "sample photo" in words
    assert "original:" in words, "the original face's card is missing"
    assert len(score_charts(at)) == 2, "one score chart for the original, one for the changed face"
    assert at.dataframe, "the every-change table is missing"
    table = at.dataframe[0].value
    assert len(table) == 9 and table["change"].iloc[0] == "None (original)"
    at.selectbox(key="robust-change").set_value("mouth_occluded").run()
    assert not at.exception
    assert "mouth covered:" in texts(at)
    assert "the answer" in texts(at) and "both heatmaps explain" in texts(at)
    assert "the black bar is part of the picture" in texts(at), "a covered face's heatmap needs its note"
    at.selectbox(key="robust-change").set_value("blur").run()
    assert not at.exception and "the black bar" not in texts(at)


def test_sidebar_model_picker_switches_every_page(app: AppTest, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A second model (here a renamed copy given by $FER_LENS_MODEL) is offered in the sidebar; choosing the
    built-in one there changes the model the pages use."""
    copy = full_card_copy(tmp_path, resolve_model_path(None))
    card = json.loads(copy.with_suffix(".json").read_text())
    copy.with_suffix(".json").write_text(json.dumps(dict(card, name="picker-test-model")))
    monkeypatch.setenv("FER_LENS_MODEL", str(copy))
    from fer_core.model.catalog import builtin_models

    st.cache_resource.clear()
    try:
        at = app.run()
        assert not [s for s in at.selectbox if s.key == "model"], "model file names are technical details"
        at.toggle(key="technical").set_value(True).run()
        picker = at.selectbox(key="model")
        assert picker.value == str(copy) and len(picker.options) == 1 + len(builtin_models())
        at.switch_page("app_pages/model.py").run()
        assert not at.exception and "picker-test-model" in texts(at)

        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.session_state["model"] = builtin_models()[0]  # as if picked in the sidebar
        at.session_state["technical"] = True
        at.switch_page("app_pages/model.py").run()
        assert not at.exception
        assert "picker-test-model" not in texts(at) and builtin_models()[0] in texts(at)
    finally:
        st.cache_resource.clear()


def test_webcam_page_before_the_camera_starts(app: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Webcam page renders headlessly with the WebRTC player stood in for (streamlit-webrtc needs a live
    server): the privacy line, the controls and the plain-words help are there, and the page hands the
    player this session's frame processor. The real stream is tested in tests/app/test_browser_webcam.py."""
    from types import SimpleNamespace

    import ui.webcam_view as webcam_view

    handed = []
    monkeypatch.setattr(webcam_view, "stream", lambda processor: handed.append(processor) or SimpleNamespace(
        state=SimpleNamespace(playing=False)))
    at = app.run()
    at.switch_page("app_pages/webcam.py").run()
    assert not at.exception, at.exception
    words = texts(at)
    assert "turn on your camera" in words and "never saved" in words
    assert "facial expression" in words
    assert any(b.label.startswith("Freeze this frame") for b in at.button), "the freeze button is missing"
    assert handed and callable(handed[-1].process), "the player must get the session's frame processor"
    twin = int8_twin(DEFAULT_MODEL)
    if twin:  # the shipped int8 twin runs the stream by default; its switch shows with the technical details
        assert not [t for t in at.toggle if t.key == "webcam-int8"], "the engine is a technical detail"
        assert handed[-1].model_name == twin
        at.toggle(key="technical").set_value(True).run()
        assert at.toggle(key="webcam-int8").value is True
        at.toggle(key="webcam-int8").set_value(False).run()
        assert not at.exception, at.exception
        assert handed[-1].model_name == DEFAULT_MODEL
        at.toggle(key="technical").set_value(False).run()  # hidden again, the choice stands
        assert not at.exception and handed[-1].model_name == DEFAULT_MODEL


def test_webcam_page_says_it_is_connecting_and_after_a_while_why(app: AppTest,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The player says the camera is on, but no frame has been analysed: the panel says it is connecting, and
    once that has lasted SLOW_CONNECT_S it adds that the computer is busy (a class on one laptop can starve a
    stream's start for a minute; a bare spinner then looks broken)."""
    from types import SimpleNamespace

    import ui.webcam_view as webcam_view

    monkeypatch.setattr(webcam_view, "stream", lambda processor: SimpleNamespace(
        state=SimpleNamespace(playing=True)))
    at = app.run()
    at.switch_page("app_pages/webcam.py").run()
    assert not at.exception, at.exception
    assert "connecting to the camera" in texts(at) and "computer is busy" not in texts(at)
    monkeypatch.setattr(webcam_view, "SLOW_CONNECT_S", 0.0)
    at.run()
    assert not at.exception, at.exception
    assert "connecting to the camera" in texts(at) and "computer is busy" in texts(at)


# ---- a teacher's first ten minutes (#20) ------------------------------------------------------------------

def _model_page(app: AppTest, technical: bool) -> AppTest:
    at = app.run()
    if technical:
        at.toggle(key="technical").set_value(True).run()
    at.switch_page("app_pages/model.py").run()
    assert not at.exception, at.exception
    return at


def test_technical_details_are_off_by_default_and_the_switch_shows_them(app: AppTest) -> None:
    """Off (the default): plain words only, no AUC figures, no model file name. On: both, and the switch
    keeps its value from page to page for the session."""
    loaded_name = json.loads(resolve_model_path(None).with_suffix(".json").read_text())["name"]
    at = _model_page(app, technical=False)
    assert at.toggle(key="technical").value is False
    tables = [d.value for d in at.dataframe]
    assert not any("AUC" in str(c) for t in tables for c in t.columns), "AUC figures are technical details"
    assert loaded_name not in texts(at), "the model's file name is a technical detail"
    heatmaps = [t for t in tables if "faithful share" in t.columns]
    if not heatmaps:
        pytest.skip("the built-in model's card has no heatmap figures to hide or show")
    at = _model_page(app, technical=True)
    assert at.toggle(key="technical").value is True, "the switch keeps its value on another page"
    tables = [d.value for d in at.dataframe]
    assert any("deletion AUC (lower is better)" in t.columns for t in tables)
    assert loaded_name in texts(at)


def test_model_page_counts_an_unsure_reading_apart_and_says_where_speed_was_measured(app: AppTest) -> None:
    from fer_core import card as cards

    card = json.loads(resolve_model_path(None).with_suffix(".json").read_text())
    rows = cards.posed_rows(card.get("generalisation"))
    if rows is None:
        pytest.skip("the built-in model's card has no media-check")
    at = _model_page(app, technical=False)
    words = texts(at)
    assert "one actor" not in words and f"{len(rows)} different people" in words
    sure = sum(r["read"] == cards.POSED_SURE for r in rows)
    unsure = sum(r["read"] == cards.POSED_UNSURE for r in rows)
    assert f"{sure} of {len(rows)}** read as intended" in words
    if unsure:
        assert f"{unsure} more as intended **but unsure**" in words
    posed = next(d.value for d in at.dataframe if "intended" in d.value.columns)
    assert set(posed["read"]) <= {cards.POSED_SURE, cards.POSED_UNSURE, cards.POSED_MISSED}
    for _, row in posed.iterrows():  # a reading the app calls uncertain never counts as read as intended
        if row["read"] == cards.POSED_SURE:
            assert row["score"] >= UNCERTAIN_TOP
    if card.get("latency"):
        assert "time on this computer" not in words and "not on this computer" in words


def test_photo_page_says_why_instead_of_none_and_offers_no_empty_downloads(app: AppTest) -> None:
    happy = require_shared("media", "photos", "faceapi_happy.jpg").read_bytes()
    at = app.run()
    at.switch_page("app_pages/photo.py").run()
    at.file_uploader(key="uploads").set_value([("wall.png", blank_png(), "image/png")]).run()
    assert not at.exception, at.exception
    assert not at.get("download_button"), "a photo without a face must not offer empty CSV or JSON files"
    assert "no face found, so there are no results to download" in texts(at)
    at.file_uploader(key="uploads").set_value([
        ("happy.jpg", happy, "image/jpeg"), ("notes.png", b"this is not a picture", "image/png"),
        ("wall.png", blank_png(), "image/png")]).run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert table["expression"].notna().all() and "None" not in set(table["expression"].astype(str))
    by_file = dict(zip(table["file"], table["expression"]))
    assert by_file["notes.png"] == "could not be used" and by_file["wall.png"] == "no face found"
    errors = " ".join(e.value for e in at.error)
    assert PHOTO_FORMATS in errors and "TIFF" not in errors and "GIF" not in errors
    assert PHOTO_FORMATS in at.file_uploader(key="uploads").label
    assert {b.key for b in at.get("download_button")} >= {"dl-csv", "dl-json"}


def test_trust_notes_carry_a_sentence_for_the_class(app: AppTest) -> None:
    from ui.trust import TRUST_FOR_CLASS

    at = app.run()
    at.button(key="try-sample").click().run()
    assert not at.exception, at.exception
    notes = [c.value for c in at.caption if "How far to trust this map" in c.value]
    assert notes, "the trust note is missing"
    assert all("To say to a class" in n and any(s in n for s in TRUST_FOR_CLASS.values()) for n in notes)
    help_text = " ".join(m.value for m in at.markdown)
    assert all(s in help_text for s in TRUST_FOR_CLASS.values()), "the help names all three verdicts"


def test_home_and_robustness_start_from_the_measured_showcase(app: AppTest) -> None:
    from fer_core.samples import HOME_VERDICT, ROBUSTNESS_CHANGE, ROBUSTNESS_SAMPLE, SAMPLE_NAME
    from ui.trust import TRUST_WORDS

    at = app.run()
    words = texts(at)
    assert "why this photo" in words
    if HOME_VERDICT != "faithful":  # said honestly, not faked
        assert "none passes it fully" in words and TRUST_WORDS[HOME_VERDICT].lower() in words
    at.button(key="try-sample").click().run()
    assert SAMPLE_NAME.lower() in texts(at)
    at.switch_page("app_pages/robustness.py").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="robust-change").value == ROBUSTNESS_CHANGE
    assert ROBUSTNESS_SAMPLE in texts(at)


def test_video_page_text_and_chart_use_the_uncertain_rule_and_the_blurred_copy_shows(app: AppTest) -> None:
    """The timeline's words and its shaded zone say the app's one threshold (fer_core.evaluation.uncertainty);
    "Make the blurred copy" shows the video and its download in the same run, with nothing to reopen."""
    import re

    from ui.video_view import TIMELINE_CAPTION

    clip = require_shared("media", "videos", "liveportrait_d18.mp4").read_bytes()
    at = app.run()
    at.switch_page("app_pages/video.py").run()
    at.selectbox(key="video_fps").set_value(1.0).run()
    at.file_uploader(key="video_upload").set_value([("d18.mp4", clip, "video/mp4")]).run()
    assert not at.exception, at.exception
    captions = [c.value for c in at.caption]
    assert TIMELINE_CAPTION in captions
    said = {int(n) for n in re.findall(r"below (\d+)%", TIMELINE_CAPTION)}
    assert said == {round(UNCERTAIN_TOP * 100)}, "the caption's threshold is the rule's"
    if UNCERTAIN_MARGIN > 0:
        assert f"{UNCERTAIN_MARGIN * 100:.0f} points" in TIMELINE_CAPTION
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    zones = [s for s in spec["layout"]["shapes"] if s.get("type") == "rect" and s.get("y0") == 0]
    assert zones and all(z["y1"] == UNCERTAIN_TOP for z in zones), "the shaded zone is the rule's"
    notes = [a["text"] for a in spec["layout"]["annotations"] if "unsure" in a.get("text", "")]
    assert notes == [f"unsure below {UNCERTAIN_TOP:.0%}"]
    assert not at.get("video")
    at.button(key="make-share").click().run()
    assert not at.exception, at.exception
    assert len(at.get("video")) == 1, "the blurred copy shows at once"
    assert any(b.key == "dl-video-share" for b in at.get("download_button"))
    assert not [b for b in at.button if b.key == "make-share"], "made once: the button gives way to the copy"


def test_model_page_shows_the_photos_of_other_people_beside_the_test_faces(app: AppTest) -> None:
    """The card's figures on photos through the face finder (`evaluate DIR --layout folders --detect
    --write-card`) are on the Model page, next to the FER+ test figure."""
    from fer_core import card as cards

    card = json.loads(resolve_model_path(None).with_suffix(".json").read_text())
    photos = cards.photo_scores(card)
    if photos is None:
        pytest.skip("the built-in model's card has no figures on photos through the face finder")
    words = texts(at := _model_page(app, technical=False))
    assert not at.exception
    assert f"on {photos['n']:,} press and web photos" in words
    assert f"**{photos['accuracy']:.0%}** of the time" in words


def test_group_photo_heatmaps_are_one_batch_of_exactly_what_the_cards_ask_for(app: AppTest,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Once torch is loaded, a group photo's heatmaps are computed before its cards, in one shared batch
    (`first_heatmaps`): the cards must then find every map ready, so that batch must hold exactly the map each
    card's pickers ask for by default, and no card computes its own."""
    from fer_core.explain import attribution

    at = app.run()
    at.switch_page("app_pages/photo.py").run()
    at.file_uploader(key="uploads").set_value([
        ("one.jpg", require_shared("media", "photos", "faceapi_happy.jpg").read_bytes(), "image/jpeg")]).run()
    assert not at.exception and "face 1: happiness" in texts(at)  # the page has loaded torch for its heatmap

    from ui import photo_view

    events: list = []  # ("batch", targets) and ("card", face index), in the order the page made them
    explain_crops, face_card = attribution.explain_crops, photo_view.face_card
    monkeypatch.setattr(attribution, "explain_crops", lambda model, crops, method, targets=None: events.append(
        ("batch", list(targets))) or explain_crops(model, crops, method, targets))
    monkeypatch.setattr(photo_view, "face_card", lambda result, i, *a: events.append(("card", i))
                        or face_card(result, i, *a))
    monkeypatch.setattr(attribution, "explain", lambda *a, **k: pytest.fail("a card computed its own heatmap"))
    group = require_shared("media", "photos", "faceapi_bbt1.jpg").read_bytes()
    at.file_uploader(key="uploads").set_value([("group.jpg", group, "image/jpeg")]).run()
    assert not at.exception
    defaults = [s.value for s in at.selectbox if s.key and s.key.startswith("target-")]
    assert len(defaults) >= 2, "the group photo should give several face cards"
    assert events == [("batch", defaults)] + [("card", i) for i in range(len(defaults))], \
        "one batch before the cards, holding each card's own default map"
    heatmaps = [c for img in at.get("image") for c in _captions(img) if (c or "").startswith("Occlusion heatmap")]
    assert len(heatmaps) == len(defaults), "every card shows its heatmap"
