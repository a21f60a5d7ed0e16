"""Pictures and words for an explanation: heatmap overlays on the aligned crop and on the whole photo, a
colour legend, and a one-sentence caption that names facial regions.

Regions are fixed areas of the aligned crop, placed from the landmark template the crop is aligned to
(`align.FER_TEMPLATE`), so they need no landmarks of their own.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import cv2
import numpy as np

from fer_core.detection.align import CROP_SIZE, FER_TEMPLATE, alignment_matrix

if TYPE_CHECKING:
    from fer_core.explain.attribution import Explanation
    from fer_core.recognizer import FaceResult

DEFAULT_COLORMAP = cv2.COLORMAP_TURBO
DEFAULT_ALPHA = 0.5
HOT_QUANTILE = 0.8  # the caption credits regions with the hottest 20% of the map


# ---- colour -------------------------------------------------------------------------------------------

def _diverging_lut() -> np.ndarray:
    """256 RGB colours blue -> white -> red, for signed (contrast) maps."""
    t = np.linspace(-1, 1, 256)[:, None]
    blue, white, red = np.array([33, 102, 172.0]), np.array([247, 247, 247.0]), np.array([178, 24, 43.0])
    lut = np.where(t < 0, white + (blue - white) * -t, white + (red - white) * t)
    return lut.round().astype(np.uint8)


_DIVERGING = _diverging_lut()


def colorize(heatmap: np.ndarray, signed: bool = False, colormap: int = DEFAULT_COLORMAP) -> np.ndarray:
    """Heatmap in [0, 1] (or [-1, 1] when signed) -> RGB uint8; signed maps use blue-white-red."""
    if signed:
        idx = np.clip((heatmap + 1) * 127.5, 0, 255).astype(np.uint8)
        return _DIVERGING[idx]
    idx = np.clip(heatmap * 255, 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(idx, colormap), cv2.COLOR_BGR2RGB)


def _blend(image: np.ndarray, colour: np.ndarray, weight: np.ndarray) -> np.ndarray:
    w = weight[..., None].astype(np.float32)
    return (image.astype(np.float32) * (1 - w) + colour.astype(np.float32) * w).round().astype(np.uint8)


def _alpha_map(heatmap: np.ndarray, alpha: float, fade_low: bool) -> np.ndarray:
    """Per-pixel opacity: with `fade_low`, weak areas stay see-through so the face remains readable."""
    return alpha * np.sqrt(np.abs(heatmap)) if fade_low else np.full(heatmap.shape, alpha, np.float32)


def overlay(image: np.ndarray, heatmap: np.ndarray, signed: bool = False, alpha: float = DEFAULT_ALPHA,
            colormap: int = DEFAULT_COLORMAP, fade_low: bool = True) -> np.ndarray:
    """RGB image with the heatmap (any size; resized to the image) blended on top."""
    h, w = image.shape[:2]
    if heatmap.shape != (h, w):
        heatmap = cv2.resize(heatmap.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return _blend(image, colorize(heatmap, signed, colormap), _alpha_map(heatmap, alpha, fade_low))


def overlay_on_crop(crop: np.ndarray, explanation: "Explanation", **kwargs) -> np.ndarray:
    """The explanation drawn over the aligned face crop it was computed on."""
    return overlay(crop, explanation.heatmap, explanation.signed, **kwargs)


def overlay_on_photo(rgb: np.ndarray, faces: "list[tuple[FaceResult, Explanation]]",
                     alpha: float = DEFAULT_ALPHA, colormap: int = DEFAULT_COLORMAP,
                     fade_low: bool = True) -> np.ndarray:
    """The whole photo with each face's heatmap warped back through the inverse alignment transform.
    Each face only touches the box around its warped crop, so big photos stay cheap."""
    out = rgb.copy()
    h, w = rgb.shape[:2]
    for face, expl in faces:
        size = expl.heatmap.shape[0]
        inverse = cv2.invertAffineTransform(alignment_matrix(face.box, face.landmarks, size))
        corners = cv2.transform(np.array([[[0, 0], [size, 0], [0, size], [size, size]]], np.float32), inverse)[0]
        x0, y0 = np.floor(corners.min(axis=0)).astype(int).clip(0, [w, h])
        x1, y1 = np.ceil(corners.max(axis=0)).astype(int).clip(0, [w, h])
        if x1 <= x0 or y1 <= y0:
            continue
        shifted = inverse - np.array([[0, 0, x0], [0, 0, y0]], np.float64)  # into the face's box
        box = (int(x1 - x0), int(y1 - y0))
        heat = cv2.warpAffine(expl.heatmap.astype(np.float32), shifted, box, flags=cv2.INTER_LINEAR, borderValue=0)
        inside = cv2.warpAffine(np.ones((size, size), np.float32), shifted, box, flags=cv2.INTER_LINEAR,
                                borderValue=0)
        weight = _alpha_map(heat, alpha, fade_low) * inside
        out[y0:y1, x0:x1] = _blend(out[y0:y1, x0:x1], colorize(heat, expl.signed, colormap), weight)
    return out


def legend(width: int = 256, height: int = 44, signed: bool = False, colormap: int = DEFAULT_COLORMAP,
           low: str | None = None, high: str | None = None) -> np.ndarray:
    """A colour bar (RGB uint8) labelled low -> high (or against -> for, for signed maps)."""
    bar_h = height // 2
    ramp = np.tile(np.linspace(-1 if signed else 0, 1, width, dtype=np.float32), (bar_h, 1))
    img = np.full((height, width, 3), 255, np.uint8)
    img[:bar_h] = colorize(ramp, signed, colormap)
    low = low or ("against" if signed else "low")
    high = high or ("for" if signed else "high")
    font, scale, y = cv2.FONT_HERSHEY_SIMPLEX, 0.4, height - 6
    cv2.putText(img, low, (2, y), font, scale, (0, 0, 0), 1, cv2.LINE_AA)
    tw = cv2.getTextSize(high, font, scale, 1)[0][0]
    cv2.putText(img, high, (width - tw - 2, y), font, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return img


# ---- facial regions and the caption ----------------------------------------------------------------

REGIONS = ("outside the face", "forehead", "cheeks", "chin", "nose", "eyes and brows", "mouth")


def region_map(size: int = CROP_SIZE) -> np.ndarray:
    """(size, size) int map of aligned-crop pixels to REGIONS indices, laid out from FER_TEMPLATE.

    Later regions are painted over earlier ones, so the small, telling parts (eyes, mouth) win borders.
    """
    (lex, ley), (rex, rey), (nx, ny), (mlx, mly), (mrx, mry) = FER_TEMPLATE
    eye_y, mouth_y, mouth_x = (ley + rey) / 2, (mly + mry) / 2, (mlx + mrx) / 2
    eye_gap = rex - lex
    ys, xs = (np.mgrid[0:size, 0:size] + 0.5) / size
    labels = np.zeros((size, size), np.int32)

    def paint(name: str, mask: np.ndarray) -> None:
        labels[mask] = REGIONS.index(name)

    def ellipse(cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
        return ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1

    face_l, face_r = 0.5 - eye_gap, 0.5 + eye_gap  # a face is about two eye gaps wide
    paint("forehead", (ys < eye_y - 0.3 * eye_gap) & (ys > eye_y - 1.05 * eye_gap)
          & (np.abs(xs - 0.5) < 0.8 * eye_gap))
    paint("cheeks", (ys >= eye_y) & (ys <= mouth_y + 0.1 * eye_gap) & (xs > face_l) & (xs < face_r))
    paint("chin", ellipse(mouth_x, mouth_y + 0.45 * eye_gap, 0.55 * eye_gap, 0.25 * eye_gap))
    paint("eyes and brows", (ys > eye_y - 0.5 * eye_gap) & (ys < eye_y) & (xs > lex - 0.4 * eye_gap)
          & (xs < rex + 0.4 * eye_gap))  # the brow band, frown lines between the brows included
    paint("nose", (np.abs(xs - nx) < 0.22 * eye_gap) & (ys >= eye_y) & (ys < ny + 0.15 * eye_gap))
    for ex, ey in ((lex, ley), (rex, rey)):
        paint("eyes and brows", ellipse(ex, ey - 0.12 * eye_gap, 0.42 * eye_gap, 0.36 * eye_gap))
    paint("mouth", ellipse(mouth_x, mouth_y, 0.62 * (mrx - mlx), 0.24 * eye_gap))
    return labels


def region_shares(heatmap: np.ndarray, hot_quantile: float = HOT_QUANTILE) -> dict[str, float]:
    """Share of the map's hottest pixels (above `hot_quantile`, positive values only) in each region,
    largest first. Counting only hot pixels stops a faint glow over the large background from winning."""
    heat = np.clip(heatmap, 0, None).astype(np.float64)
    labels = region_map(heat.shape[0])
    if heat.max() <= 0:
        return {}
    hot = np.where(heat >= np.quantile(heat, hot_quantile), heat, 0.0)
    mass = np.bincount(labels.ravel(), weights=hot.ravel(), minlength=len(REGIONS))
    shares = mass / max(mass.sum(), 1e-12)
    return dict(sorted(((REGIONS[i], float(s)) for i, s in enumerate(shares) if s > 0), key=lambda kv: -kv[1]))


@functools.lru_cache(maxsize=4)
def region_areas(size: int = CROP_SIZE) -> dict[str, float]:
    """Share of the aligned crop's area that each region covers."""
    counts = np.bincount(region_map(size).ravel(), minlength=len(REGIONS))
    return {name: float(c) / size ** 2 for name, c in zip(REGIONS, counts)}


MIN_REGION_SHARE = 0.15  # a region must hold this much of the hot map to be named
BACKGROUND_SHARE = 0.5  # ...and the background is named first only when it holds at least half


def _main_regions(shares: dict[str, float], size: int = CROP_SIZE, runner_up: float = 0.6) -> str:
    """"the mouth", or "the mouth, then the cheeks" when the second region is nearly as hot.

    Regions differ a lot in size (the cheeks are four times the mouth), so among the regions that hold a
    real part of the map, the one where it is *densest* is named first; otherwise a wide glow that
    merely spills over the large cheeks would be credited to them rather than to the mouth it centres on.
    """
    if not shares:
        return "no particular area"
    phrase = lambda n: n if n == "outside the face" else f"the {n}"  # noqa: E731
    if shares.get("outside the face", 0.0) >= BACKGROUND_SHARE:
        return phrase("outside the face")
    areas = region_areas(size)
    facial = {n: s for n, s in shares.items() if n != "outside the face"} or shares
    named = [n for n, s in facial.items() if s >= MIN_REGION_SHARE] or [max(facial, key=facial.get)]
    density = {n: shares[n] / max(areas[n], 1e-9) for n in named}
    ranked_names = sorted(named, key=lambda n: -density[n])
    if len(ranked_names) > 1 and density[ranked_names[1]] >= runner_up * density[ranked_names[0]]:
        return f"{phrase(ranked_names[0])}, then {phrase(ranked_names[1])}"
    return phrase(ranked_names[0])


def movement_note(where: str, movements: dict[str, float] | None) -> str:
    """", where the face's mesh measures mouth corners raised, like AU12" when a movement that stands out
    (detection.movements.notable) lies in a region the caption names; "" otherwise."""
    from fer_core.detection.movements import notable

    named = {r for r in REGIONS if r in where and r != "outside the face"}
    words = [w for m, _, w in notable(movements) if m.region in named]
    return f", where the face's mesh measures {' and '.join(words[:2])}" if words else ""


def caption(explanation: "Explanation", movements: dict[str, float] | None = None) -> str:
    """One sentence for a non-expert, naming the facial regions that hold most of the map, and the measured
    facial movements there (`movements`, from the face's mesh) when they agree with the map."""
    e = explanation
    if e.signed:
        pro, con = region_shares(e.heatmap), region_shares(-e.heatmap)
        side = e.heatmap.shape[0]
        parts = ([f"red areas speak for *{e.target}* rather than *{e.contrast}* (mainly {_main_regions(pro, side)})"]
                 if pro else []) + ([f"blue areas speak for *{e.contrast}* (mainly {_main_regions(con, side)})"]
                                    if con else [])
        if not parts:
            return f"Nothing in this face separates *{e.target}* from *{e.contrast}* in this view."
        sentence = "; ".join(parts)
        return sentence[0].upper() + sentence[1:] + "."
    shares = region_shares(e.heatmap)
    if not shares:
        return (f"No area of this face raised the score for *{e.target}* in this view; "
                f"try another method or class.")
    where = _main_regions(shares, e.heatmap.shape[0])
    note = movement_note(where, movements)
    if not e.info.class_specific:
        sentence = (f"The model paid the most attention to the red areas: mainly {where}{note}. (This map is the "
                    f"model's own focus and is the same whichever expression you ask about.)")
    elif e.info.evidence:
        sentence = f"The red areas raised the score for *{e.target}* the most: mainly {where}{note}."
    else:
        sentence = f"The score for *{e.target}* reacts most to changes in the red areas: mainly {where}{note}."
    if where.startswith("outside the face"):
        sentence += " The model may be looking at hair or background rather than the expression."
    return sentence
