"""Safe image loading: any path, bytes, PIL or numpy image -> RGB uint8 array, or a clear `ImageLoadError`.

Handles EXIF orientation, grey/RGBA/palette/CMYK/16-bit images, truncated and zero-byte files, non-images
and decompression bombs (the pixel count is checked before any pixel is decoded).
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 50_000_000  # ~8K x 6K; anything larger is refused before decoding
# What the app's photo uploaders accept (their `type=`), and the same in words for every message that lists
# it, so a message never offers a format the uploader refuses. (`load_image` itself reads more: TIFF, GIF…)
PHOTO_TYPES: tuple[str, ...] = ("jpg", "jpeg", "png", "webp", "bmp")
_FORMAT_NAMES = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WebP", "bmp": "BMP"}
_NAMES = list(dict.fromkeys(_FORMAT_NAMES[t] for t in PHOTO_TYPES))
PHOTO_FORMATS = ", ".join(_NAMES[:-1]) + f" or {_NAMES[-1]}"  # "JPEG, PNG, WebP or BMP"
ImageInput = Union[str, Path, bytes, Image.Image, np.ndarray]


class ImageLoadError(ValueError):
    """The input is not an image we can read; the message says why, in words a user understands."""


def _sixteen_bit_to_uint8(im: Image.Image) -> np.ndarray:
    arr = np.asarray(im).astype(np.float32)
    top = arr.max()
    if top > 255:
        arr = arr / (257.0 if top <= 65535 else top / 255.0)
    return np.clip(arr, 0, 255).astype(np.uint8)


def pil_to_rgb(im: Image.Image) -> np.ndarray:
    """Honour EXIF orientation and convert any mode to an HxWx3 uint8 RGB array."""
    w, h = im.size
    if w * h > MAX_PIXELS:
        raise ImageLoadError(f"image is too large ({w}x{h} = {w * h / 1e6:.0f} megapixels; the limit is "
                             f"{MAX_PIXELS / 1e6:.0f}). Please downscale it first.")
    if w == 0 or h == 0:
        raise ImageLoadError("image has no pixels")
    try:
        im = ImageOps.exif_transpose(im)
        if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
            grey = _sixteen_bit_to_uint8(im)
            return np.repeat(grey[:, :, None], 3, axis=2)
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            rgba = im.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
        return np.asarray(im.convert("RGB"))
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt pixel data
        raise ImageLoadError(f"the image file is damaged or incomplete ({exc})") from exc


def load_image(src: ImageInput) -> np.ndarray:
    """Read an image from a path, raw bytes, a PIL image or an array (RGB, grey or RGBA) as RGB uint8."""
    if isinstance(src, np.ndarray):
        return array_to_rgb(src)
    if isinstance(src, Image.Image):
        return pil_to_rgb(src)
    if isinstance(src, (str, Path)):
        path = Path(src)
        if not path.is_file():
            raise ImageLoadError(f"no such file: {path}")
        data = path.read_bytes()
    elif isinstance(src, (bytes, bytearray, memoryview)):
        data = bytes(src)
    else:
        raise ImageLoadError(f"cannot read an image from {type(src).__name__}")
    if not data:
        raise ImageLoadError("the file is empty (0 bytes)")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as im:
                return pil_to_rgb(im)
        except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            if isinstance(exc, UnidentifiedImageError):
                raise ImageLoadError(f"this is not an image we can read (use {PHOTO_FORMATS})") from exc
            raise ImageLoadError("image is too large (possible decompression bomb)") from exc
        except ImageLoadError:
            raise
        except (OSError, ValueError, SyntaxError) as exc:
            raise ImageLoadError(f"the image file is damaged or incomplete ({exc})") from exc


def array_to_rgb(arr: np.ndarray) -> np.ndarray:
    """Accept HxW grey, HxWx1, HxWx3 RGB or HxWx4 RGBA arrays (uint8, uint16 or float in [0, 1])."""
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)) or min(arr.shape[:2]) == 0:
        raise ImageLoadError(f"expected an HxW, HxWx3 or HxWx4 image array, got shape {arr.shape}")
    if arr.shape[0] * arr.shape[1] > MAX_PIXELS:
        raise ImageLoadError(f"image is too large ({arr.shape[1]}x{arr.shape[0]})")
    if arr.dtype == np.uint16:
        arr = (arr / 257.0).astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.floating):
        arr = (np.clip(np.nan_to_num(arr), 0, 1) * 255 + 0.5).astype(np.uint8)
    elif arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.shape[2] == 4:
        alpha = arr[:, :, 3:4].astype(np.float32) / 255.0
        arr = (arr[:, :, :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(arr)


def letterbox(rgb: np.ndarray, size: tuple[int, int] = (640, 480)) -> tuple[np.ndarray, tuple[float, float]]:
    """Fit into `size` (w, h) keeping the aspect ratio, pad with black; returns the frame and the old centre in
    it. Benchmarks and the fake webcam feed real clips to the detector as a 640x480 camera would."""
    import cv2

    w, h = size
    ratio = min(w / rgb.shape[1], h / rgb.shape[0])
    new_w, new_h = round(rgb.shape[1] * ratio), round(rgb.shape[0] * ratio)
    resized = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_AREA)
    frame = np.zeros((h, w, 3), np.uint8)
    left, top = (w - new_w) // 2, (h - new_h) // 2
    frame[top:top + new_h, left:left + new_w] = resized
    return frame, (left + new_w / 2, top + new_h / 2)
