"""A sample photo that ships with an installed package, so anyone can try the app without a photo of
their own: scikit-image's public-domain portrait of astronaut Eileen Collins (NASA, 1999).

Kept light on purpose (no torch, no model imports): the Home page shows it before anything heavy loads."""
from __future__ import annotations

import io
from functools import lru_cache

import numpy as np

SAMPLE_NAME = "astronaut.png"
SAMPLE_CREDIT = "Astronaut Eileen Collins, NASA photo (public domain), shipped with scikit-image"


@lru_cache(maxsize=1)
def sample_photo_rgb() -> np.ndarray:
    """The sample photo as an RGB uint8 array (512 x 512)."""
    from skimage import data  # imported here: only the sample needs scikit-image

    rgb = data.astronaut()
    rgb.setflags(write=False)  # shared by every caller
    return rgb


@lru_cache(maxsize=1)
def sample_photo_png() -> bytes:
    """The sample photo as PNG bytes (what an upload of it would be)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(sample_photo_rgb()).save(buf, format="PNG")
    return buf.getvalue()
