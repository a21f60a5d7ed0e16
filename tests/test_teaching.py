"""The teaching game's headless parts on the real FER+ test split (skipped without ../shared): votes read as
label.csv holds them, said in words that match the counts, faces picked as a seeded mix of clear and disputed
ones, and a score that counts each face once."""
from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_core import teaching
from fer_core.detection.align import CROP_SIZE
from fer_core.labels import CLASSES
from tests.conftest import require_shared


@pytest.fixture(scope="module")
def folder() -> Path:
    return require_shared("data", "ferplus", "FER2013Test").parent / "FER2013Test"


@pytest.fixture(scope="module")
def faces(folder: Path) -> list[teaching.VotedFace]:
    return teaching.read_votes(folder)


def raw_rows(folder: Path) -> dict[str, list[int]]:
    with open(folder / "label.csv", newline="") as f:
        return {r[0]: [int(v) for v in r[2:12]] for r in csv.reader(f) if len(r) >= 12}


def test_folder_is_found_from_the_ferplus_root_or_itself(folder: Path, tmp_path: Path) -> None:
    assert teaching.test_folder(folder.parent) == folder
    assert teaching.test_folder(folder) == folder
    assert teaching.test_folder(tmp_path) is None and teaching.test_folder("") is None


def test_votes_are_label_csv_rows_and_the_words_match_them(folder: Path, faces) -> None:
    rows = raw_rows(folder)
    assert 0 < len(faces) <= len(rows)
    for face in faces[:400]:
        votes = rows[face.name]
        assert list(face.votes) == votes
        words = teaching.people_words(face.votes)
        total = sum(votes)
        for cls, n in zip(teaching.VOTE_COLUMNS[:8], votes[:8]):
            if n:
                assert re.search(rf"\b(All {n}|{n} of {total}|{n}) (people )?said {cls}\b", words), (votes, words)
            else:
                assert f"said {cls}" not in words
        best = max(votes[:8])
        unanimous = best == total
        assert ("disagreed" in words or "not all" in words or "split" in words) == (not unanimous), words
        if votes[8]:
            assert f"{votes[8]} could not tell" in words
        top = {c for c, n in zip(CLASSES, votes[:8]) if n == best}
        assert set(face.people_top) == top


def test_faces_are_picked_as_a_seeded_mix_of_clear_and_disputed(faces) -> None:
    deck = teaching.pick_faces(faces, 30, seed=7)
    assert deck == teaching.pick_faces(faces, 30, seed=7), "the same seed gives the same faces"
    assert deck != teaching.pick_faces(faces, 30, seed=8)
    assert len(set(deck)) == 30
    share = [faces[i].agreement for i in deck]
    assert share[0] >= teaching.CLEAR_SHARE, "the first face is a clear one"
    clear = sum(s >= teaching.CLEAR_SHARE for s in share)
    disputed = sum(s <= teaching.DISPUTED_SHARE for s in share)
    assert clear >= 10 and disputed >= 10, (clear, disputed)
    tops = Counter(faces[i].people_top[0] for i in deck)
    overall = Counter(f.people_top[0] for f in faces)
    rare = [c for c in CLASSES if overall[c] < len(faces) * 0.1]
    assert sum(tops[c] for c in rare) / 30 > sum(overall[c] for c in rare) / len(faces), \
        "rarer expressions come up more often than their share of the test set"


def test_face_crop_is_the_png_enlarged_in_memory(folder: Path, faces) -> None:
    name = faces[0].name
    before = sorted(p.name for p in folder.iterdir())[:5]
    crop = teaching.face_crop(folder, name)
    assert crop.shape == (CROP_SIZE, CROP_SIZE, 3) and crop.dtype == np.uint8
    assert (crop[..., 0] == crop[..., 1]).all(), "a grey face, as FER2013's are"
    small = np.asarray(Image.fromarray(crop[..., 0]).resize((48, 48), Image.BILINEAR), np.float32)
    with Image.open(folder / name) as im:
        png = np.asarray(im.convert("L"), np.float32)
    assert np.abs(small - png).mean() < 6
    assert sorted(p.name for p in folder.iterdir())[:5] == before


def test_scoreboard_counts_each_face_once(faces) -> None:
    board = teaching.Scoreboard()
    a, b = faces[0], faces[1]
    board.record(teaching.Round(a.name, a.people_top, model_top=a.people_top[0], guess=a.people_top[0]))
    wrong = next(c for c in CLASSES if c not in b.people_top)
    board.record(teaching.Round(b.name, b.people_top, model_top=wrong, guess=wrong))
    board.record(teaching.Round(b.name, b.people_top, model_top=wrong, guess=wrong))  # the same face again
    assert len(board) == 2 and board.class_matches == 1 and board.model_matches == 1
    assert "1 of 2" in board.words()


def test_the_class_clicks_are_the_votes() -> None:
    clicks = Counter({"happiness": 3, "surprise": 2})
    votes = teaching.tally(clicks)
    words = teaching.people_words(votes, "people in the class")
    assert "3 of 5 people in the class said happiness, 2 said surprise" in words
    assert words.startswith("People in the class disagreed")
    assert teaching.people_words(votes, "people in the class", "The class").startswith("The class disagreed")
    assert teaching.majority(votes) == ("happiness",)
    r = teaching.Round("own-1", teaching.majority(votes), model_top="happiness", votes=votes)
    assert r.model_matched and r.class_agreement == pytest.approx(3 / 5)
    assert teaching.votes_sentence(teaching.tally(Counter())) == "No people have voted yet"
