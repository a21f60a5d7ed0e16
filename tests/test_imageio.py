"""Bad and unusual image inputs: a clear ImageLoadError or a correct RGB array, never a crash or a hang."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from fer_core.imageio import MAX_PIXELS, ImageLoadError, load_image


def _encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _gradient(w: int = 64, h: int = 48) -> Image.Image:
    arr = np.zeros((h, w, 3), np.uint8)
    arr[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    arr[..., 1] = np.linspace(0, 255, h, dtype=np.uint8)[:, None]
    arr[..., 2] = 100
    return Image.fromarray(arr)


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"this is plain text, not a picture", "not an image"),
    (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj", "not an image"),
])
def test_non_images_are_refused_with_a_reason(data: bytes, message: str) -> None:
    with pytest.raises(ImageLoadError, match=message):
        load_image(data)


def test_truncated_jpeg_is_refused() -> None:
    data = _encode(_gradient(640, 480), "JPEG", quality=90)
    with pytest.raises(ImageLoadError, match="damaged|incomplete"):
        load_image(data[: len(data) // 3])


def test_decompression_bomb_is_refused_before_decoding() -> None:
    side = int(np.sqrt(MAX_PIXELS)) + 200
    bomb = _encode(Image.new("L", (side, side)), "PNG")  # tiny file, huge canvas
    assert len(bomb) < 200_000
    with pytest.raises(ImageLoadError, match="too large"):
        load_image(bomb)


def test_missing_file(tmp_path) -> None:
    with pytest.raises(ImageLoadError, match="no such file"):
        load_image(tmp_path / "nope.jpg")


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "CMYK", "I;16", "1"])
def test_every_mode_becomes_rgb_uint8(mode: str) -> None:
    base = _gradient()
    if mode == "I;16":
        arr16 = (np.asarray(base.convert("L")).astype(np.uint16) * 257)
        im = Image.fromarray(arr16)
        fmt = "PNG"
    else:
        im = base.convert(mode)
        fmt = "TIFF" if mode == "CMYK" else "PNG"
    rgb = load_image(_encode(im, fmt))
    assert rgb.dtype == np.uint8 and rgb.shape == (48, 64, 3)
    grey = np.asarray(base.convert("L")).astype(int)
    if mode in ("L", "LA", "I;16"):  # intensity survives (16-bit is rescaled, not clipped)
        assert np.abs(rgb[..., 0].astype(int) - grey).max() <= 2


def test_exif_orientation_is_honoured() -> None:
    im = _gradient(64, 48)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when displayed
    rgb = load_image(_encode(im, "JPEG", exif=exif.tobytes(), quality=95))
    assert rgb.shape == (64, 48, 3)


def test_arrays_are_accepted() -> None:
    grey = np.full((10, 12), 7, np.uint8)
    assert load_image(grey).shape == (10, 12, 3)
    assert load_image(np.zeros((10, 12, 4), np.uint8)).shape == (10, 12, 3)
    assert load_image(np.ones((10, 12, 3), np.float32))[0, 0, 0] == 255
    with pytest.raises(ImageLoadError):
        load_image(np.zeros((10, 12, 7), np.uint8))
