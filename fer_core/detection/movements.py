"""Facial movements measured on the Face Mesh, in plain words: what anyone can see and check on the face.

Each movement is a signed distance between mesh points, in units of the face's own eye spacing (the
distance between the eye centres), measured after turning the face so its eyes are level, and given against
a reference: by default the median over FER+ neutral faces (`fer-lens movement-reference`, stored beside the
mesh weights), or a person's own resting face where the Webcam page has recorded one. Positive means raised,
open, pressed, stretched, drawn together, widened or wrinkled more than the reference.

Each is named for what it measures and paired with the FACS action unit it resembles (Ekman and Friesen's
Facial Action Coding System). A movement is not a feeling, and neither is an action unit: a raised mouth
corner is a raised mouth corner.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from fer_core.model.catalog import BUILTIN_DIR

REFERENCE_PATH = BUILTIN_DIR / "mediapipe" / "movement_reference.json"

# Point groups of the 468-point topology (TensorFlow.js facemesh MESH_ANNOTATIONS); "right" is the subject's.
RIGHT_EYE_UPPER, RIGHT_EYE_LOWER = (159, 158, 160), (145, 153, 144)
LEFT_EYE_UPPER, LEFT_EYE_LOWER = (386, 385, 387), (374, 380, 373)
RIGHT_EYE = (33, 133, 159, 145, 160, 144, 158, 153)
LEFT_EYE = (263, 362, 386, 374, 387, 373, 385, 380)
RIGHT_BROW, LEFT_BROW = (70, 63, 105, 66, 107), (300, 293, 334, 296, 336)
RIGHT_BROW_INNER, LEFT_BROW_INNER = 107, 336
MOUTH_RIGHT, MOUTH_LEFT = 61, 291
UPPER_LIP_OUTER, UPPER_LIP_INNER, LOWER_LIP_INNER, LOWER_LIP_OUTER = 0, 13, 14, 17
NOSE_RIGHT_WING, NOSE_LEFT_WING = 98, 327
RIGHT_EYE_INNER, LEFT_EYE_INNER = 133, 362


@dataclass(frozen=True)
class Movement:
    """One measured movement: its key, the words for its positive and negative sides, the action units they
    resemble, and the facial region it belongs to (the caption's region names)."""

    key: str
    raised: str  # words for a positive value, e.g. "mouth corners raised"
    lowered: str  # words for a negative value
    unit: str  # the action unit a positive value resembles
    unit_negative: str
    region: str  # "mouth", "eyes and brows" or "nose"


MOVEMENTS: tuple[Movement, ...] = (
    Movement("mouth_corners_raised", "mouth corners raised", "mouth corners lowered", "AU12", "AU15", "mouth"),
    Movement("mouth_open", "mouth open", "lips closed tighter", "AU25/AU26", "", "mouth"),
    Movement("lips_pressed", "lips pressed thin", "lips fuller", "AU24", "", "mouth"),
    Movement("lips_stretched", "lips stretched wide", "mouth narrowed", "AU20", "AU18", "mouth"),
    Movement("brows_raised", "brows raised", "brows lowered", "AU1+AU2", "AU4", "eyes and brows"),
    Movement("brows_drawn_together", "brows drawn together", "brows apart", "AU4", "", "eyes and brows"),
    Movement("eyes_widened", "eyes widened", "eyes narrowed", "AU5", "AU7", "eyes and brows"),
    Movement("nose_wrinkled", "nose wrinkled", "nose relaxed", "AU9", "", "nose"),
)
BY_KEY = {m.key: m for m in MOVEMENTS}


def _levelled(points: np.ndarray) -> tuple[np.ndarray, float]:
    """2D points turned so the eyes are level (x to the subject's left, y down), and the eye spacing."""
    xy = points[:, :2].astype(np.float64)
    right, left = xy[list(RIGHT_EYE)].mean(0), xy[list(LEFT_EYE)].mean(0)
    axis = left - right
    spacing = float(np.hypot(*axis))
    if spacing < 1e-6:
        raise ValueError("the eyes coincide: not a usable mesh")
    c, s = axis / spacing
    rotation = np.array([[c, s], [-s, c]])
    return (xy - (right + left) / 2) @ rotation.T, spacing


def raw_measures(points: np.ndarray) -> dict[str, float]:
    """Every movement's raw distance for one (468, 3) mesh, in eye spacings (no reference subtracted).

    Signs follow the movement's name: larger means more raised, open, pressed, stretched, together, wide
    or wrinkled."""
    p, d = _levelled(points)
    y = p[:, 1]

    def mean_y(ids: tuple[int, ...]) -> float:
        return float(y[list(ids)].mean())

    # Anchored on the eye line, which the lips do not move: relative to the lips' own middle, an opening jaw
    # would look like raised corners (measured on the LivePortrait clips: surprise read as a smile).
    eye_line = (mean_y(RIGHT_EYE) + mean_y(LEFT_EYE)) / 2
    corners = (y[MOUTH_RIGHT] + y[MOUTH_LEFT]) / 2
    lip_thickness = (y[UPPER_LIP_INNER] - y[UPPER_LIP_OUTER]) + (y[LOWER_LIP_OUTER] - y[LOWER_LIP_INNER])
    brow = (mean_y(RIGHT_BROW) + mean_y(LEFT_BROW)) / 2  # over the eye centres: widening lids do not cancel it
    eye_opening = ((mean_y(RIGHT_EYE_LOWER) - mean_y(RIGHT_EYE_UPPER))
                   + (mean_y(LEFT_EYE_LOWER) - mean_y(LEFT_EYE_UPPER))) / 2
    wings = (y[NOSE_RIGHT_WING] + y[NOSE_LEFT_WING]) / 2
    inner_corners = (y[RIGHT_EYE_INNER] + y[LEFT_EYE_INNER]) / 2
    return {
        "mouth_corners_raised": (eye_line - corners) / d,
        "mouth_open": (y[LOWER_LIP_INNER] - y[UPPER_LIP_INNER]) / d,
        "lips_pressed": -lip_thickness / d,
        "lips_stretched": float(np.hypot(*(p[MOUTH_LEFT] - p[MOUTH_RIGHT]))) / d,
        "brows_raised": (eye_line - brow) / d,
        "brows_drawn_together": -float(np.hypot(*(p[LEFT_BROW_INNER] - p[RIGHT_BROW_INNER]))) / d,
        "eyes_widened": eye_opening / d,
        "nose_wrinkled": -(wings - inner_corners) / d,
    }


@dataclass(frozen=True)
class Reference:
    """What 0 means for each movement: a typical value and a typical spread (both in eye spacings)."""

    name: str  # "FER+ neutral faces (median of N)" or "your resting face"
    centre: dict[str, float]
    spread: dict[str, float]

    @classmethod
    def from_samples(cls, name: str, samples: list[dict[str, float]], spread: dict[str, float] | None = None
                     ) -> "Reference":
        """Median of raw measures; spread from the samples (scaled MAD) unless given (a resting face records
        too few frames for its own spread, so it borrows the neutral faces')."""
        keys = [m.key for m in MOVEMENTS]
        values = np.array([[s[k] for k in keys] for s in samples])
        centre = np.median(values, axis=0)
        if spread is None:
            mad = np.median(np.abs(values - centre), axis=0) * 1.4826
            spread = dict(zip(keys, map(float, np.maximum(mad, 1e-4))))
        return cls(name, dict(zip(keys, map(float, centre))), spread)

    def to_json(self) -> dict:
        return {"name": self.name, "centre": self.centre, "spread": self.spread}


@lru_cache(maxsize=1)
def neutral_reference(path: Path = REFERENCE_PATH) -> Reference | None:
    """The committed FER+ neutral reference, or None when it has not been measured yet."""
    try:
        d = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return Reference(d["name"], d["centre"], d["spread"])


def measure(points: np.ndarray | None, reference: Reference | None = None) -> dict[str, float] | None:
    """Signed movements of one mesh against the reference (default: FER+ neutral faces); None without a mesh
    or a reference. Values are in eye spacings: 0.05 is a twentieth of the distance between the eyes."""
    if points is None:
        return None
    reference = reference or neutral_reference()
    if reference is None:
        return None
    try:
        raw = raw_measures(points)
    except ValueError:
        return None
    return {k: round(v - reference.centre[k], 4) for k, v in raw.items()}


NOTABLE = 1.5  # a movement is worth putting into words beyond this many typical spreads from the reference


def notable(movements: dict[str, float] | None, reference: Reference | None = None
            ) -> list[tuple[Movement, float, str]]:
    """The movements that stand out, largest first, each with its value and its plain words, e.g.
    (mouth_corners_raised, 0.08, "mouth corners raised, like AU12")."""
    reference = reference or neutral_reference()
    if not movements or reference is None:
        return []
    out = []
    for m in MOVEMENTS:
        value = movements.get(m.key)
        if value is None:
            continue
        z = value / reference.spread[m.key]
        if abs(z) < NOTABLE:
            continue
        words, unit = (m.raised, m.unit) if z > 0 else (m.lowered, m.unit_negative)
        out.append((m, value, f"{words}, like {unit}" if unit else words, abs(z)))
    out.sort(key=lambda t: -t[3])
    return [(m, v, words) for m, v, words, _ in out]
