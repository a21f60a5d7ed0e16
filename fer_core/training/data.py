"""Datasets in three layouts (FER+, class folders, Kaggle fer2013.csv) as uint8 arrays plus soft labels.

Everything is decoded once into memory (and optionally cached as .npz), because decoding 28k small PNGs
every epoch would cost more than the training step on a 2-core machine.
"""
from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from fer_core.labels import CLASSES, FER2013_CODES, NUM_CLASSES, canonical

FERPLUS_SPLITS = {"train": "FER2013Train", "valid": "FER2013Valid", "test": "FER2013Test"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}


@dataclass
class FaceDataset:
    """Face crops (N, H, W) uint8 grey, soft targets (N, 8) and majority labels (N,)."""

    images: np.ndarray
    soft: np.ndarray
    labels: np.ndarray
    names: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, idx: np.ndarray) -> "FaceDataset":
        return FaceDataset(self.images[idx], self.soft[idx], self.labels[idx], [self.names[i] for i in idx])

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=NUM_CLASSES)


def ferplus_majority(votes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Apply the project protocol to (N, 10) vote rows: returns (keep mask, majority label).

    Label = first argmax of the 8 emotion votes; drop rows where unknown or NF has strictly more votes
    than the best emotion (see ../shared/data/README.md).
    """
    emotion = votes[:, :NUM_CLASSES]
    best = emotion.max(axis=1)
    keep = (votes[:, 8] <= best) & (votes[:, 9] <= best) & (best > 0)
    return keep, emotion.argmax(axis=1)


def _load_grey(path: Path, size: int) -> np.ndarray:
    with Image.open(path) as im:
        im = im.convert("L")
        if im.size != (size, size):
            im = im.resize((size, size), Image.BILINEAR)
        return np.asarray(im, dtype=np.uint8)


def load_ferplus(root: str | Path, split: str, size: int = 48) -> FaceDataset:
    """Read one FER+ split directory (PNG files plus label.csv with 10 votes per row)."""
    folder = Path(root) / FERPLUS_SPLITS.get(split, split)
    rows = []
    with open(folder / "label.csv", newline="") as f:
        for row in csv.reader(f):
            if len(row) >= 12:
                rows.append((row[0], [int(v) for v in row[2:12]]))
    if not rows:
        raise ValueError(f"{folder}/label.csv has no vote rows")
    votes = np.array([v for _, v in rows], dtype=np.float32)
    keep, labels = ferplus_majority(votes)
    names = [n for (n, _), k in zip(rows, keep) if k]
    images = np.stack([_load_grey(folder / n, size) for n in names])
    emotion = votes[keep, :NUM_CLASSES]
    soft = emotion / emotion.sum(axis=1, keepdims=True)
    return FaceDataset(images, soft.astype(np.float32), labels[keep].astype(np.int64), names)


def load_folders(root: str | Path, size: int = 48) -> FaceDataset:
    """Read `root/<class>/*.png|jpg...`; class folder names may be synonyms (happy, angry, ...)."""
    root = Path(root)
    images, labels, names = [], [], []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        cls = canonical(sub.name)
        if cls is None:
            continue
        for path in sorted(sub.rglob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                images.append(_load_grey(path, size))
                labels.append(CLASSES.index(cls))
                names.append(str(path.relative_to(root)))
    if not images:
        raise ValueError(f"no class folders with images under {root} (expected e.g. {root}/happy/*.png)")
    labels_arr = np.array(labels, dtype=np.int64)
    return FaceDataset(np.stack(images), np.eye(NUM_CLASSES, dtype=np.float32)[labels_arr], labels_arr, names)


def load_fer2013_csv(path: str | Path, split: str = "train", size: int = 48) -> FaceDataset:
    """Read the Kaggle fer2013.csv (emotion, pixels, Usage); split train/valid/test =
    Training/PublicTest/PrivateTest."""
    usage = {"train": "Training", "valid": "PublicTest", "test": "PrivateTest"}[split]
    images, labels, names = [], [], []
    with open(path, newline="") as f:
        for i, row in enumerate(csv.DictReader(f)):
            if row.get("Usage", usage) != usage:
                continue
            img = np.array(row["pixels"].split(), dtype=np.uint8).reshape(48, 48)
            if size != 48:
                img = np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR))
            images.append(img)
            labels.append(CLASSES.index(FER2013_CODES[int(row["emotion"])]))
            names.append(f"row{i}")
    if not images:
        raise ValueError(f"{path} has no rows with Usage={usage}")
    labels_arr = np.array(labels, dtype=np.int64)
    return FaceDataset(np.stack(images), np.eye(NUM_CLASSES, dtype=np.float32)[labels_arr], labels_arr, names)


def detect_layout(root: str | Path) -> str:
    root = Path(root)
    if root.is_file() and root.suffix.lower() == ".csv":
        return "fer2013csv"
    if (root / "FER2013Train").is_dir() or (root / "FER2013Test").is_dir() or (root / "label.csv").is_file():
        return "ferplus"
    return "folders"


def load_dataset(root: str | Path, layout: str = "auto", split: str = "test", size: int = 48,
                 cache_dir: str | Path | None = None) -> FaceDataset:
    """Load any supported layout; with `cache_dir`, decoded arrays are cached as .npz keyed by path/split/size."""
    layout = detect_layout(root) if layout == "auto" else layout
    cache = None
    if cache_dir is not None:
        key = hashlib.sha1(f"{Path(root).resolve()}|{layout}|{split}|{size}".encode()).hexdigest()[:16]
        cache = Path(cache_dir) / f"{layout}-{split}-{size}-{key}.npz"
        if cache.exists():
            z = np.load(cache)
            return FaceDataset(z["images"], z["soft"], z["labels"], list(z["names"]))
    if layout == "ferplus":
        root_p = Path(root)
        ds = load_ferplus(root_p.parent if (root_p / "label.csv").is_file() else root_p,
                          root_p.name if (root_p / "label.csv").is_file() else split, size)
    elif layout == "folders":
        ds = load_folders(root, size)
    elif layout == "fer2013csv":
        ds = load_fer2013_csv(root, split, size)
    else:
        raise ValueError(f"unknown layout {layout!r}; use ferplus, folders or fer2013csv")
    if cache is not None:
        os.makedirs(cache.parent, exist_ok=True)
        np.savez(cache, images=ds.images, soft=ds.soft, labels=ds.labels, names=np.array(ds.names))
    return ds


def detector_canvas(face: np.ndarray) -> tuple[np.ndarray, int]:
    """A grey FER crop as an RGB image a face detector can work on: FER crops fill the frame, so a replicated
    border of a quarter side gives the detector the context it expects. Returns (rgb, border width)."""
    pad = face.shape[0] // 4
    return np.repeat(np.pad(face, pad, mode="edge")[:, :, None], 3, axis=2), pad
