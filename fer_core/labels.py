"""Class names in FER+ order, their display colours, and the synonyms other datasets use."""
from __future__ import annotations

CLASSES: tuple[str, ...] = (
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
)
NUM_CLASSES = len(CLASSES)

# Colour-blind-friendly palette (Okabe-Ito + grey), one per class, as RGB.
COLORS_RGB: dict[str, tuple[int, int, int]] = {
    "neutral": (153, 153, 153),
    "happiness": (230, 159, 0),
    "surprise": (86, 180, 233),
    "sadness": (0, 114, 178),
    "anger": (213, 94, 0),
    "disgust": (0, 158, 115),
    "fear": (204, 121, 167),
    "contempt": (120, 94, 240),
}

# Folder / CSV names other datasets use, mapped to our class names.
SYNONYMS: dict[str, str] = {
    "neutral": "neutral",
    "happy": "happiness",
    "happiness": "happiness",
    "joy": "happiness",
    "surprise": "surprise",
    "surprised": "surprise",
    "sad": "sadness",
    "sadness": "sadness",
    "angry": "anger",
    "anger": "anger",
    "disgust": "disgust",
    "disgusted": "disgust",
    "fear": "fear",
    "fearful": "fear",
    "afraid": "fear",
    "contempt": "contempt",
}

# The Kaggle fer2013.csv integer codes: 0=Angry 1=Disgust 2=Fear 3=Happy 4=Sad 5=Surprise 6=Neutral.
FER2013_CODES: dict[int, str] = {
    0: "anger",
    1: "disgust",
    2: "fear",
    3: "happiness",
    4: "sadness",
    5: "surprise",
    6: "neutral",
}


def canonical(name: str) -> str | None:
    """Map a free-form class name (any case, synonyms allowed) to a FER+ class, or None."""
    return SYNONYMS.get(name.strip().lower())


def hex_color(name: str) -> str:
    r, g, b = COLORS_RGB[name]
    return f"#{r:02x}{g:02x}{b:02x}"
