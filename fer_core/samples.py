"""Sample photos that ship with installed packages, so anyone can try the app without a photo of their own
(and without ../shared): public-domain portraits from scikit-image and matplotlib, and scikit-image's CC0
"camera" photo.

Which one the Home page offers, and which face and change the Robustness page starts with, were chosen by
measurement, not by eye: `fer-lens showcase` (fer_core/research/showcase.py) reads every face of every
sample here as the app does and prints why. The constants below record its answer; a test re-measures it.

Kept light on purpose (no torch, no model imports): the Home page shows the sample before anything heavy
loads."""
from __future__ import annotations

import importlib.util
import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

_IMPORT_NAMES = {"scikit-image": "skimage", "matplotlib": "matplotlib"}  # distribution -> import name


@dataclass(frozen=True)
class Sample:
    name: str  # as the app shows it, like a file name
    credit: str  # who made it and its licence, in one line
    package: str  # the installed package it ships with

    def path(self) -> Path:
        """Where the package keeps the file, found without importing the package (matplotlib alone takes
        ~0.2 s to import, which the Home page's first draw would wait for)."""
        spec = importlib.util.find_spec(_IMPORT_NAMES[self.package])
        if spec is None or spec.origin is None:
            raise FileNotFoundError(f"{self.name} ships with {self.package}, which is not installed")
        package_dir = Path(spec.origin).parent
        if self.package == "matplotlib":
            return package_dir / "mpl-data" / "sample_data" / self.name
        return package_dir / "data" / self.name


SAMPLES: dict[str, Sample] = {s.name: s for s in (
    Sample("astronaut.png", "Astronaut Eileen Collins, NASA photo (public domain), shipped with scikit-image",
           "scikit-image"),
    Sample("grace_hopper.jpg", "Computer scientist Grace Hopper, official U.S. Navy portrait (public domain), "
           "shipped with matplotlib", "matplotlib"),
    Sample("camera.png", "A photographer, by Lav Varshney (CC0), shipped with scikit-image", "scikit-image"),
)}

# Measured with `fer-lens showcase` on 2026-12-02 (fer-resnet10t-v3, BlazeFace, Occlusion maps of 16 px
# windows, 2 cores):
#   astronaut.png     happiness 99%   map Partly faithful: gap 0.76, only 0.06 above a blob on the face centre;
#                     no change moves its score by more than 7 points (mouth covered: 92%).
#   grace_hopper.jpg  neutral 86%     map Faithful: gap 0.43, 0.38 above the blob; blurred: 86% -> 58%,
#                     mouth covered: 86% -> 65%, tilted 20 degrees: 69%.
#   camera.png        neutral 50%     unsure; map Partly faithful; mouth covered or blurred: read as sadness.
# Grace Hopper's map passes the trust check outright ("Faithful"), on a reading that is not unsure, so the Home
# page offers her portrait and says why (HOME_VERDICT). Her face also gives the change that moves the score most
# on a sure reading: blurring (28 points).
HOME_SAMPLE = "grace_hopper.jpg"
HOME_VERDICT = "faithful"  # the trust check's verdict on its default map, as measured above
ROBUSTNESS_SAMPLE = "grace_hopper.jpg"
ROBUSTNESS_FACE = 0  # in reading order
ROBUSTNESS_CHANGE = "blur"  # a key of fer_core.evaluation.perturb.PERTURBATIONS

SAMPLE_NAME = HOME_SAMPLE
SAMPLE_CREDIT = SAMPLES[HOME_SAMPLE].credit


@lru_cache(maxsize=len(SAMPLES))
def sample_rgb(name: str) -> np.ndarray:
    """One sample photo as an RGB uint8 array (read-only: shared by every caller)."""
    from PIL import Image

    with Image.open(SAMPLES[name].path()) as im:
        rgb = np.asarray(im.convert("RGB")).copy()
    rgb.setflags(write=False)
    return rgb


@lru_cache(maxsize=len(SAMPLES))
def sample_png(name: str) -> bytes:
    """One sample photo as PNG bytes (what an upload of it would be). The fastest zlib level: the same
    pixels, encoded in ~22 ms instead of ~79 ms (quiet, 2 cores), which a cold server's first click on the
    sample waits for."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(sample_rgb(name)).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def sample_photo_rgb() -> np.ndarray:
    """The Home page's sample photo as an RGB uint8 array."""
    return sample_rgb(HOME_SAMPLE)


def sample_photo_png() -> bytes:
    """The Home page's sample photo as PNG bytes."""
    return sample_png(HOME_SAMPLE)
