"""The Compare and "Can you read this face?" pages and the Photo page's report download, run headlessly with
Streamlit's AppTest through app.py's navigation, on real photos and the real FER+ test split (skipped without
../shared)."""
from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fer_core.labels import CLASSES
from fer_core.model.catalog import builtin_models
from tests.app.app_support import score_charts
from tests.conftest import REPO, require_shared

APP = str(REPO / "app.py")
TIMEOUT = 300
SECOND = "fer-resnet10t-cbam-v1"

pytestmark = pytest.mark.filterwarnings("ignore:Setting backward hooks on ReLU")


def texts(at: AppTest) -> str:
    parts = [e.value for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning",
                                  "error", "success") for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def image_captions(at: AppTest) -> list[str]:
    return [img.caption for element in at.get("image") for img in element.proto.imgs]


def photo(name: str) -> tuple[str, bytes, str]:
    return name, require_shared("media", "photos", name).read_bytes(), "image/jpeg"


# ---- Compare ------------------------------------------------------------------------------------------------

def test_compare_two_faces_of_one_photo(app: AppTest) -> None:
    at = app.run()
    at.switch_page("app_pages/compare.py").run()
    assert not at.exception, at.exception
    assert at.radio(key="compare-mode").value == "faces"
    assert "upload one photo with two or more faces" in texts(at).lower(), "without photos it asks for them"
    at.file_uploader(key="compare-uploads").set_value([photo("faceapi_bbt1.jpg")]).run()
    assert not at.exception, at.exception
    words = texts(at)
    assert re.search(r"#### Face A: \w+ \(\d+%\)", words) and re.search(r"#### Face B: \w+ \(\d+%\)", words)
    table = at.dataframe[0].value
    assert sorted(table["expression"]) == sorted(CLASSES) and table["Face A"].is_monotonic_decreasing
    assert all(int(row["difference (points)"]) == row["Face A"] - row["Face B"] for _, row in table.iterrows())
    heading_a = re.search(r"#### Face A: (\w+) \((\d+)%\)", words)
    assert (table["expression"].iloc[0], table["Face A"].iloc[0]) == (heading_a.group(1), int(heading_a.group(2))), \
        "the table's whole percentages are the ones the panels print"
    difference = next(i.value for i in at.info if "look to the model" in i.value)
    assert f"{table['Face A'].iloc[0]}%" in difference
    assert len(score_charts(at)) == 2, "one score chart per side"
    assert sum("heatmap" in c for c in image_captions(at)) == 2
    assert words.count("How far to trust this map") == 2, "both trust notes are filled in"
    assert "emotion" not in words.lower()

    at.selectbox(key="compare-face-b").set_value(2).run()  # another face: the same page, new numbers
    assert not at.exception and at.dataframe[0].value["Face B"].tolist() != table["Face B"].tolist()


def test_compare_one_face_under_two_models(app: AppTest) -> None:
    if SECOND not in builtin_models():
        pytest.skip(f"{SECOND} is not shipped")
    at = app.run()
    at.switch_page("app_pages/compare.py").run()
    at.radio(key="compare-mode").set_value("models").run()
    assert not at.exception, at.exception
    at.file_uploader(key="compare-upload").set_value([photo("faceapi_bbt1.jpg")]).run()
    at.selectbox(key="compare-model").set_value(SECOND).run()
    at.selectbox(key="compare-face").set_value(1).run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    first = next(c for c in table.columns if c not in ("expression", "difference (points)", SECOND))
    top = table["expression"].iloc[0]
    gap = abs(table[first].iloc[0] - table[SECOND].iloc[0])
    worst = max(abs(int(d)) for d in table["difference (points)"])
    words = texts(at)
    assert f"#### {first}:" in words and f"#### {SECOND}:" in words
    if gap >= 10:
        assert f"disagree by {gap} points on {top}; neither is the truth" in words, words
    elif worst >= 10:
        assert f"disagree by {worst} points" in words and "neither is the truth" in words
    else:
        assert "broadly agree" in words
    assert words.count("How far to trust this map") == 2


# ---- Can you read this face? -------------------------------------------------------------------------------

def ferplus_votes() -> dict[str, list[int]]:
    folder = require_shared("data", "ferplus", "FER2013Test", "label.csv")
    with open(folder, newline="") as f:
        return {r[0]: [int(v) for v in r[2:12]] for r in csv.reader(f) if len(r) >= 12}


def shown_face(at: AppTest) -> str:
    names = [m.group(0) for c in image_captions(at) if (m := re.search(r"fer\d+\.png", c or ""))]
    assert len(names) == 1, image_captions(at)
    return names[0]


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_teach_with_ferplus_reveals_the_votes_and_keeps_score(app: AppTest, monkeypatch) -> None:
    votes = ferplus_votes()
    at = app.run()
    at.session_state["teach-seed"] = 12345
    at.switch_page("app_pages/teach.py").run()
    assert not at.exception, at.exception
    words = texts(at).lower()
    assert "facial expression" in words and "not a feeling" in words and "emotion" not in words
    assert metric(at, "Faces revealed") == "0"

    name = shown_face(at)
    row = votes[name]
    best = max(row[:8])
    majority = [c for c, n in zip(CLASSES, row) if n == best]
    at.button(key=f"teach-guess-{majority[0]}").click().run()  # the class names what most people said
    assert not at.exception, at.exception
    said = next(e.value for e in [*at.info, *at.success] if "said" in e.value and "people" in e.value)
    for cls, n in zip(CLASSES, row[:8]):
        if n:
            assert re.search(rf"\b(All {n}|{n} of {sum(row)}|{n}) (people )?said {cls}\b", said), (row, said)
        else:
            assert f"said {cls}" not in said
    assert (best < sum(row)) == any(w in said for w in ("disagreed", "not all", "split")), said
    assert metric(at, "Faces revealed") == "1" and metric(at, "The class matched the people") == "1 of 1"
    model_says = re.search(r"The model's top expression is \*\*(\w+)\*\*", texts(at)).group(1)
    assert metric(at, "The model matched the people") == f"{int(model_says in majority)} of 1"
    assert "How far to trust this map" in texts(at)

    at.button(key="teach-next").click().run()
    second = shown_face(at)
    assert second != name and metric(at, "Faces revealed") == "1"
    row = votes[second]
    best = max(row[:8])
    other = min((c for c, n in zip(CLASSES, row) if n < best), key=lambda c: row[CLASSES.index(c)])
    at.button(key=f"teach-guess-{other}").click().run()  # an answer most people did not give
    assert not at.exception, at.exception
    assert metric(at, "Faces revealed") == "2" and metric(at, "The class matched the people") == "1 of 2"


def test_teach_without_ferplus_asks_for_photos_and_counts_the_clicks(app: AppTest, monkeypatch,
                                                                      tmp_path: Path) -> None:
    monkeypatch.setenv("FER_LENS_SHARED", str(tmp_path))  # a computer without the FER+ folder
    group = photo("faceapi_bbt1.jpg")
    at = app.run()
    at.switch_page("app_pages/teach.py").run()
    assert not at.exception, at.exception
    assert at.text_input(key="teach-folder").value == ""
    asked = " ".join(i.value for i in at.info)
    assert "no fer+ folder was found" in asked.lower() and "upload" in asked.lower()
    assert at.file_uploader(key="teach-uploads") is not None
    assert not [b for b in at.button if (b.key or "").startswith("teach-guess-")], "no face to guess yet"

    at.file_uploader(key="teach-uploads").set_value([group]).run()
    assert not at.exception, at.exception
    assert at.button(key="teach-reveal").disabled, "nothing to reveal before anyone has voted"
    for choice in ("neutral", "neutral", "sadness"):
        at.button(key=f"teach-guess-{choice}").click().run()
    assert "3 votes so far" in texts(at)
    at.button(key="teach-reveal").click().run()
    assert not at.exception, at.exception
    said = next(e.value for e in at.info if "people in the class" in e.value)
    assert "2 of 3 people in the class said neutral, 1 said sadness" in said
    assert metric(at, "Faces revealed") == "1" and metric(at, "The class agreed with itself") == f"{2 / 3:.0%}"
    assert metric(at, "The model matched the people").endswith("of 1")


# ---- the Photo page's report ------------------------------------------------------------------------------

def test_photo_page_offers_the_printable_report_blurred_by_default(app: AppTest) -> None:
    at = app.run()
    at.switch_page("app_pages/photo.py").run()
    at.file_uploader(key="uploads").set_value([photo("faceapi_bbt2.jpg")]).run()
    assert not at.exception, at.exception
    assert at.checkbox(key="report-blur").value is True
    assert at.checkbox(key="report-blur").label == "Blur faces in the report"
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Printable report (HTML)" in labels


def test_teach_reads_a_typed_ferplus_folder(app: AppTest, monkeypatch, tmp_path: Path) -> None:
    """No FER+ folder where FER Lens looks first, but the teacher types where theirs is."""
    folder = require_shared("data", "ferplus", "FER2013Test").parent
    monkeypatch.setenv("FER_LENS_SHARED", str(tmp_path))
    at = app.run()
    at.switch_page("app_pages/teach.py").run()
    assert at.file_uploader(key="teach-uploads") is not None
    at.text_input(key="teach-folder").input(str(tmp_path / "nothing-here")).run()
    assert any("no fer+ test faces were found" in w.value.lower() for w in at.warning)
    at.text_input(key="teach-folder").input(str(folder)).run()
    assert not at.exception, at.exception
    assert not at.warning and at.radio(key="teach-source").value == "ferplus"
    assert shown_face(at) in ferplus_votes()


def test_teach_round_ends_and_a_new_one_starts(app: AppTest, monkeypatch) -> None:
    from fer_core import teaching

    monkeypatch.setattr(teaching, "DECK_SIZE", 2)  # a short round
    votes = ferplus_votes()
    at = app.run()
    at.session_state["teach-seed"] = 7
    at.switch_page("app_pages/teach.py").run()
    seen = []
    for _ in range(2):
        seen.append(shown_face(at))
        at.button(key="teach-guess-neutral").click().run()
        at.button(key="teach-next").click().run()
    assert not at.exception, at.exception
    done = " ".join(s.value for s in at.success)
    assert "last of the 2 faces" in done
    neutral = sum(votes[name][0] == max(votes[name][:8]) for name in seen)
    assert f"The class matched the people's majority on {neutral} of 2 faces" in done
    at.button(key="teach-restart").click().run()
    assert not at.exception and metric(at, "Faces revealed") == "0"
    assert at.session_state["teach-seed"] != 7, "a new round brings new faces"
