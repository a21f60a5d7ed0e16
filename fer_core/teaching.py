"""The "Can you read this face?" game, headless: which faces to show, what people said about them, and the
running score of the class and of the model.

Faces come from a FER+ folder on this computer (FER2013Test's 48x48 faces and the ten annotators' votes in
its label.csv), read at run time and kept in memory only, or from the teacher's own photos, where the class's
clicks are the votes. Nothing here writes to disk, and no face is part of the project.
"""
from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import cv2
import numpy as np
from PIL import Image

from fer_core.detection.align import CROP_SIZE
from fer_core.labels import CLASSES, NUM_CLASSES
from fer_core.paths import shared_dir
from fer_core.training.data import FERPLUS_SPLITS, ferplus_majority

VOTE_COLUMNS: tuple[str, ...] = (*CLASSES, "unknown", "NF")  # label.csv's ten vote columns, in order
TEST_FOLDER = FERPLUS_SPLITS["test"]  # FER2013Test: faces no model of ours was trained or chosen on

# The buttons' words: how people would say what a face shows.
PLAIN_NAMES: dict[str, str] = {
    "neutral": "Neutral", "happiness": "Happy", "surprise": "Surprised", "sadness": "Sad", "anger": "Angry",
    "disgust": "Disgusted", "fear": "Afraid", "contempt": "Scornful (contempt)",
}

CLEAR_SHARE = 0.8  # at least 8 of 10 people named the same expression
DISPUTED_SHARE = 0.6  # at most 6 of 10 did
DECK_SIZE = 30


# ---- where the faces are --------------------------------------------------------------------------------

def default_ferplus_root() -> Path:
    """Where a FER+ folder is looked for first: `<shared>/data/ferplus` (see fer_core.paths)."""
    return shared_dir() / "data" / "ferplus"


def test_folder(root: str | Path | None) -> Path | None:
    """The FER2013Test folder (with its label.csv) of a FER+ folder, or that folder itself; None when
    `root` holds neither."""
    if not root or not str(root).strip():
        return None
    root = Path(str(root).strip()).expanduser()
    for folder in (root / TEST_FOLDER, root):
        if (folder / "label.csv").is_file():
            return folder
    return None


@dataclass(frozen=True)
class VotedFace:
    """One FER+ face: its file in the folder and the ten annotators' votes (VOTE_COLUMNS order)."""

    name: str
    votes: tuple[int, ...]

    @property
    def expression_votes(self) -> np.ndarray:  # the first 8 columns: one per expression
        return np.array(self.votes[:NUM_CLASSES])

    @property
    def people_top(self) -> tuple[str, ...]:
        return majority(self.votes)

    @property
    def agreement(self) -> float:
        """Share of the expression votes that went to the most named expression."""
        v = self.expression_votes
        return float(v.max() / max(v.sum(), 1))


def read_votes(folder: str | Path) -> list[VotedFace]:
    """Every face of `folder`/label.csv that the project's protocol keeps (an expression got at least as
    many votes as 'unknown' and 'not a face'), with its votes."""
    rows = []
    with open(Path(folder) / "label.csv", newline="") as f:
        for row in csv.reader(f):
            if len(row) >= 12:
                rows.append((row[0], tuple(int(v) for v in row[2:12])))
    if not rows:
        raise ValueError(f"{folder}/label.csv has no vote rows")
    keep, _ = ferplus_majority(np.array([v for _, v in rows], dtype=np.float32))
    return [VotedFace(name, votes) for (name, votes), k in zip(rows, keep) if k]


def face_crop(folder: str | Path, name: str) -> np.ndarray:
    """A FER+ face as the aligned RGB crop the model takes (CROP_SIZE square), read from disk now and kept in
    memory only. FER2013's faces are already cropped and aligned much as our crops are."""
    with Image.open(Path(folder) / name) as im:
        grey = np.asarray(im.convert("L"), dtype=np.uint8)
    big = cv2.resize(grey, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_CUBIC)
    return cv2.cvtColor(big, cv2.COLOR_GRAY2RGB)


# ---- which faces, in which order ------------------------------------------------------------------------

def pick_faces(faces: Sequence[VotedFace], n: int = DECK_SIZE, seed: int = 0) -> list[int]:
    """Indices of `n` faces in the order to show them: a mix of clear faces (at least 8 of 10 people agreed)
    and disputed ones (at most 6 of 10), about 4 in 10 of each and the rest in between, with the rarer
    expressions drawn more often than their share of the test set; the first face is a clear one. The same
    seed gives the same faces."""
    rng = np.random.default_rng(seed)
    share = np.array([f.agreement for f in faces])
    tops = np.array([CLASSES.index(f.people_top[0]) for f in faces])
    buckets = [np.flatnonzero(share >= CLEAR_SHARE), np.flatnonzero(share <= DISPUTED_SHARE),
               np.flatnonzero((share > DISPUTED_SHARE) & (share < CLEAR_SHARE))]
    n = min(n, len(faces))
    wanted = [round(0.4 * n), round(0.4 * n)]
    wanted.append(n - sum(wanted))
    chosen: list[list[int]] = []
    for bucket, k in zip(buckets, wanted):
        k = min(k, len(bucket))
        if not k:
            chosen.append([])
            continue
        counts = np.bincount(tops[bucket], minlength=NUM_CLASSES)
        weights = 1.0 / np.sqrt(counts[tops[bucket]])  # rare expressions come up more often
        chosen.append(list(rng.choice(bucket, size=k, replace=False, p=weights / weights.sum())))
    clear, rest = chosen[0], chosen[1] + chosen[2]
    taken = set(clear + rest)
    if len(taken) < n:  # a small folder: top up with whatever is left
        rest += list(rng.permutation([i for i in range(len(faces)) if i not in taken])[: n - len(taken)])
    order = clear[1:] + rest
    rng.shuffle(order)
    return [int(i) for i in (clear[:1] + order)]


# ---- what people said -----------------------------------------------------------------------------------

def majority(votes: Sequence[int]) -> tuple[str, ...]:
    """The most named expression(s) among the 8 (more than one on a tie); () when nobody named any."""
    v = list(votes[:NUM_CLASSES])
    best = max(v) if v else 0
    return tuple(c for c, n in zip(CLASSES, v) if n == best) if best > 0 else ()


def _counted(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def votes_sentence(votes: Sequence[int], people: str = "people") -> str:
    """The votes in words, most named first: "6 of 10 people said neutral, 4 said sadness". Votes for
    'unknown' and 'not a face' (FER+'s last two columns) are said as such."""
    votes = list(votes) + [0] * (len(VOTE_COLUMNS) - len(votes))
    total = sum(votes)
    if total == 0:
        return f"No {people} have voted yet"
    named = sorted(((n, i) for i, n in enumerate(votes[:NUM_CLASSES]) if n > 0), key=lambda t: (-t[0], t[1]))
    parts = []
    for k, (n, i) in enumerate(named):
        if k == 0:
            parts.append(f"All {total} {people} said {CLASSES[i]}" if n == total else
                         f"{n} of {total} {people} said {CLASSES[i]}")
        else:
            parts.append(f"{n} said {CLASSES[i]}")
    unknown, not_face = votes[NUM_CLASSES], votes[NUM_CLASSES + 1]
    if unknown:
        parts.append(f"{unknown} could not tell")
    if not_face:
        parts.append(f"{not_face} said it is not a face")
    sentence = ", ".join(parts)
    return sentence if named else f"None of the {total} {people} named an expression: {sentence}"


def people_words(votes: Sequence[int], people: str = "people", group: str | None = None) -> str:
    """Whether people agreed, and the votes: the reveal's first lines. `group` names them as a whole
    ("The class"; default: `people`, capitalised)."""
    said = votes_sentence(votes, people) + "."
    group = group or people.capitalize()
    top = majority(votes)
    if not top:
        return said
    if len(top) > 1:
        verb = "was" if group.lower().startswith("the ") else "were"  # "The class was", "People were"
        return f"{group} {verb} split evenly between {' and '.join(top)}. {said} Either counts as their answer."
    share = votes[CLASSES.index(top[0])] / sum(votes)
    if share == 1:
        return said
    if share >= CLEAR_SHARE:
        return f"Nearly everyone agreed, but not all. {said}"
    return f"{group} disagreed about this face. {said}"


def disagreement_share(faces: Iterable[VotedFace]) -> tuple[int, int]:
    """(faces on which not all annotators named the same expression, all faces)."""
    faces = list(faces)
    split = sum(1 for f in faces if f.expression_votes.max() < sum(f.votes))
    return split, len(faces)


# ---- keeping score --------------------------------------------------------------------------------------

@dataclass
class Round:
    """One revealed face. `guess`: the class's one answer (FER+ faces); `votes`: the class's clicks, which are
    the people's votes on the teacher's own photos."""

    face: str
    people_top: tuple[str, ...]
    model_top: str
    guess: str | None = None
    votes: tuple[int, ...] | None = None

    @property
    def class_matched(self) -> bool | None:
        return None if self.guess is None else self.guess in self.people_top

    @property
    def model_matched(self) -> bool:
        return self.model_top in self.people_top

    @property
    def class_agreement(self) -> float | None:
        """Share of the class's clicks that went to its own majority (own photos only)."""
        if not self.votes or not sum(self.votes):
            return None
        return max(self.votes[:NUM_CLASSES]) / sum(self.votes)


@dataclass
class Scoreboard:
    """The running score of a session: how often the class and the model matched the people's majority."""

    rounds: dict[str, Round] = field(default_factory=dict)

    def record(self, r: Round) -> None:
        """Count a revealed face once (revealing it again updates it)."""
        self.rounds[r.face] = r

    def __len__(self) -> int:
        return len(self.rounds)

    @property
    def guessed(self) -> list[Round]:
        return [r for r in self.rounds.values() if r.guess is not None]

    @property
    def class_matches(self) -> int:
        return sum(bool(r.class_matched) for r in self.guessed)

    @property
    def model_matches(self) -> int:
        return sum(r.model_matched for r in self.rounds.values())

    @property
    def mean_agreement(self) -> float | None:
        shares = [a for r in self.rounds.values() if (a := r.class_agreement) is not None]
        return sum(shares) / len(shares) if shares else None

    def words(self) -> str:
        n = len(self)
        if not n:
            return "No faces revealed yet."
        faces = _counted(n, "face", "faces")
        parts = []
        if self.guessed:
            g = len(self.guessed)
            parts.append(f"The class matched the people's majority on {self.class_matches} of {g} "
                         f"{_counted(g, 'face', 'faces')}")
        parts.append(f"the model on {self.model_matches} of {n} {faces}")
        sentence = "; ".join(parts)
        sentence = sentence[0].upper() + sentence[1:] + "."
        if self.mean_agreement is not None:
            sentence += (f" On average {self.mean_agreement:.0%} of the class's votes on a face went to the "
                         "class's own majority.")
        return sentence


def tally(clicks: Counter | dict[str, int]) -> tuple[int, ...]:
    """The class's clicks on one face as a 10-column vote row (no 'unknown' or 'not a face' columns used)."""
    return tuple(int(clicks.get(c, 0)) for c in CLASSES) + (0, 0)
