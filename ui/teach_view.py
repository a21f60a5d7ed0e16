"""How the "Can you read this face?" page runs: the face to read, the class's guess (8 buttons), then the reveal
(what people said, the model's scores and heatmap) and the running score. The choosing of faces, the words
for the votes and the score keeping are `fer_core.teaching`; this keeps one game per browser session."""
from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import streamlit as st

from fer_core import teaching
from fer_core.labels import CLASSES
from fer_core.model.checkpoint import LoadedModel
from fer_core.recognizer import Recognizer
from fer_core.report import PhotoResult, ranked

from . import face_panel
from .figures import score_bars
from .session_cache import memo

GAMES_KEY = "teach-games"  # {source: Game}: switching between FER+ faces and own photos keeps both scores
SEED_KEY = "teach-seed"  # one seed per session: the same faces in the same order until a new round
FOLDER_KEY, KEPT_FOLDER_KEY = "teach-folder", "teach-folder-kept"  # the widget's value is dropped off this page
FACE_PX = 224


@dataclass(frozen=True)
class Face:
    """A face to read: its id, its crop, where it came from, and the people's votes when known (FER+)."""

    id: str
    crop: np.ndarray
    source: str  # a line saying where the face comes from
    votes: tuple[int, ...] | None = None  # FER+'s ten annotators; None for the teacher's own photos


@dataclass
class Game:
    """One session's game over one source of faces (a FER+ folder, or "own" photos)."""

    source: str
    seed: int
    position: int = 0
    revealed: bool = False
    guess: str | None = None
    clicks: dict[str, Counter] = field(default_factory=dict)  # own photos: the class's votes per face
    model_top: dict[str, str] = field(default_factory=dict)  # the model's answer per face shown
    score: teaching.Scoreboard = field(default_factory=teaching.Scoreboard)


def game(source: str) -> Game:
    """This session's game for `source` (a FER+ folder, or a set of own photos), started on first use."""
    seed = st.session_state.setdefault(SEED_KEY, secrets.randbelow(2**31))
    games: dict[str, Game] = st.session_state.setdefault(GAMES_KEY, {})
    if source not in games:
        games[source] = Game(source, seed)
    return games[source]


# ---- where the faces come from ----------------------------------------------------------------------------

def ferplus_setting() -> Path | None:
    """The page's setting: the FER+ folder to read (prefilled with the shared one when it exists). Returns its
    FER2013Test folder, or None (with a note when a typed path does not hold one)."""
    default = teaching.default_ferplus_root()
    st.session_state.setdefault(KEPT_FOLDER_KEY, str(default) if teaching.test_folder(default) else "")
    st.session_state.setdefault(FOLDER_KEY, st.session_state[KEPT_FOLDER_KEY])
    with st.expander("Settings: where the faces come from", icon=":material/settings:"):
        typed = st.text_input("FER+ folder on this computer", key=FOLDER_KEY,
                              placeholder="/path/to/ferplus (with FER2013Test/label.csv inside)",
                              help="The FER+ release: FER2013's face photos with the votes of ten people each. "
                                   "Faces are read from it while the page runs and never copied or saved. Leave "
                                   "it empty to use your own photos.")
        st.caption("With a FER+ folder, the faces come from FER2013's test set and each reveal shows what the ten "
                   "people who labelled it said. Without one, upload your own photos and the class's clicks are "
                   "the votes.")
    st.session_state[KEPT_FOLDER_KEY] = typed
    folder = teaching.test_folder(typed)
    if typed.strip() and folder is None:
        st.warning(f"No FER+ test faces were found in `{typed.strip()}` (it should hold FER2013Test/label.csv), so "
                   "this uses your own photos.", icon=":material/folder_off:")
    return folder


@st.cache_resource(show_spinner="Reading the FER+ votes…", max_entries=4)
def _votes(folder: str, changed: float) -> list[teaching.VotedFace]:
    return teaching.read_votes(folder)


def voted_faces(folder: Path) -> list[teaching.VotedFace]:
    """The folder's faces and votes, read once per server (the votes are small; no face is kept)."""
    return _votes(str(folder), (folder / "label.csv").stat().st_mtime)


def ferplus_deck(g: Game, faces: list[teaching.VotedFace]) -> list[teaching.VotedFace]:
    """This round's faces, in order: the same for the same seed."""
    return [faces[i] for i in teaching.pick_faces(faces, teaching.DECK_SIZE, g.seed)]


def ferplus_face(folder: Path, voted: teaching.VotedFace) -> Face:
    crop = memo("teach-faces", (str(folder), voted.name), lambda: teaching.face_crop(folder, voted.name), max_items=8)
    return Face(voted.name, crop, f"From FER2013's test set ({voted.name}), read from this computer's FER+ folder "
                                  "and not kept.", voted.votes)


def own_faces(results: list[PhotoResult]) -> list[Face]:
    several = len(results) > 1
    return [Face(f"{r.digest[:12]}-{i}", face.crop,
                 f"Face {i + 1} of {r.name}" if several or len(r.faces) > 1 else f"The face in {r.name}")
            for r in results if r.ok for i, face in enumerate(r.faces)]


# ---- the model's reading ----------------------------------------------------------------------------------

def model_scores(recognizer: Recognizer, face: Face) -> dict[str, float]:
    """The model's scores for the face (with the same mirrored pass as the Photo page), reused on reruns."""
    probs = memo("teach-probs", (recognizer.name, face.id),
                 lambda: recognizer.classify_crops(face.crop[None])[0], max_items=32)
    return dict(zip(recognizer.labels, map(float, probs)))


# ---- the round ----------------------------------------------------------------------------------------------

def _guess(g: Game, face: Face, choice: str) -> None:
    """A button's callback: FER+ faces reveal on the first guess; own photos collect the class's votes."""
    if face.votes is None:
        g.clicks.setdefault(face.id, Counter())[choice] += 1
        return
    g.guess, g.revealed = choice, True
    g.score.record(teaching.Round(face.id, teaching.majority(face.votes), g.model_top[face.id], guess=choice))


def reveal_votes(g: Game, face: Face) -> None:
    votes = teaching.tally(g.clicks.get(face.id, Counter()))
    g.revealed = True
    g.score.record(teaching.Round(face.id, teaching.majority(votes), g.model_top[face.id], votes=votes))


def next_face(g: Game) -> None:
    g.position, g.revealed, g.guess = g.position + 1, False, None


def new_round(g: Game) -> None:
    """A button's callback: new faces (a new seed) and a fresh score for this source."""
    st.session_state[SEED_KEY] = secrets.randbelow(2**31)
    st.session_state.get(GAMES_KEY, {}).pop(g.source, None)


def scoreboard(g: Game, own: bool) -> None:
    s = g.score
    a, b, c = st.columns(3)
    a.metric("Faces revealed", len(s))
    if own:
        share = s.mean_agreement
        b.metric("The class agreed with itself", "–" if share is None else f"{share:.0%}",
                 help="On average, the share of the class's votes on a face that went to the class's own majority.")
    else:
        b.metric("The class matched the people", f"{s.class_matches} of {len(s.guessed)}",
                 help="Faces on which the class's guess was what most of the ten people said.")
    c.metric("The model matched the people", f"{s.model_matches} of {len(s)}",
             help="Faces on which the model's top expression was what most people said.")


def guess_buttons(g: Game, face: Face) -> None:
    """Eight buttons in the plain names, four rows of two (wide enough for every name on a narrow screen)."""
    for row in (CLASSES[k:k + 2] for k in range(0, len(CLASSES), 2)):
        for column, name in zip(st.columns(2), row):
            column.button(teaching.PLAIN_NAMES[name], key=f"teach-guess-{name}", on_click=_guess,
                          args=(g, face, name), width="stretch", help=f"The model calls this {name}.")


def show_face(face: Face, position: int, total: int) -> None:
    st.markdown(f"#### Face {position + 1} of {total}")
    st.image(face.crop, width=FACE_PX, caption=face.source,
             alt=f"Face {position + 1} to read: a face photo, cropped to the face")


def reveal(g: Game, face: Face, probs: dict[str, float], model: LoadedModel, method: str) -> None:
    """What people said (with how far they agreed), the class's guess against it, and the model's reading."""
    votes = face.votes if face.votes is not None else teaching.tally(g.clicks.get(face.id, Counter()))
    top = teaching.majority(votes)
    own = face.votes is None
    said = teaching.people_words(votes, "people in the class" if own else "people", "The class" if own else None)
    st.markdown("##### What people said")
    (st.success if len(top) == 1 and max(votes[:len(CLASSES)]) == sum(votes) else st.info)(
        said, icon=":material/groups:")
    if g.guess is not None:
        verdict = ("That matches what most people said." if g.guess in top else
                   f"Most people said {' or '.join(top)}.")
        plain = teaching.PLAIN_NAMES[g.guess]
        st.markdown(f"The class chose **{plain}**{'' if g.guess in plain.lower() else f' ({g.guess})'}. {verdict}")
    model_top = ranked(probs)[0][0]
    st.markdown(f"The model's top expression is **{model_top}**: "
                + ("the same as most people." if model_top in top else "not what most people said."))
    total = sum(votes[:len(CLASSES)])
    if total:
        shares = {c: v / total for c, v in zip(CLASSES, votes)}
        st.html(score_bars(shares, "Share of the people's votes for each expression"))
    st.markdown("##### What the model said")
    with st.container(border=True):
        note = face_panel.face_panel("The model", face.crop, probs, model, method, None, ("teach", face.id),
                                     chart_title="The model's score for each expression")
    face_panel.fill_all([note])
