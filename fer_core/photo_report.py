"""One photo's report as a single printable HTML page: the annotated photo, each face's scores, heatmap,
caption and trust note, the model, and what the numbers are not. Built in memory from what the Photo page
already computed (nothing is analysed again, nothing is written to disk).

With `blur` (the default) every found face is pixelated before the photo is shrunk and labelled, and each
face's heatmap is drawn over a pixelated copy of its crop with the outlines of the facial regions the
caption names, so the report never shows a recognisable face the face finder saw. Charts are drawn with
matplotlib's Agg canvas in memory, in the colour-blind-safe class colours of `fer_core.labels`.
"""
from __future__ import annotations

import io
import re
from dataclasses import replace
from html import escape
from typing import TYPE_CHECKING, Any, Sequence

import cv2
import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from fer_core import __version__
from fer_core.batch.html_report import card_summary_html, img_tag, notice_html, page
from fer_core.detection.movements import notable
from fer_core.draw import annotate, blur_faces
from fer_core.evaluation.uncertainty import uncertainty
from fer_core.explain.render import REGIONS, caption, legend, overlay, region_map
from fer_core.labels import COLORS_RGB, hex_color
from fer_core.report import png_bytes, ranked

if TYPE_CHECKING:
    from fer_core.explain.attribution import Explanation
    from fer_core.recognizer import FaceResult

PHOTO_MAX_SIDE = 1400  # the annotated photo's longer side in the report, in pixels
OUTLINED = ("eyes and brows", "nose", "mouth")  # regions outlined on a pixelated face, to find one's way
TRUST_WORDS = {"faithful": "Trust check passed", "partial": "Trust check partly passed",
               "weak": "Trust check failed"}

EXTRA_CSS = """
.photo img { width: auto; max-width: 100%; max-height: 120mm; margin: 0 auto; }
.face { border: 1px solid var(--line); border-radius: 2mm; padding: 2mm 4mm 3mm; margin: 4mm 0; }
.face h2 { border: 0; margin: 1mm 0 2mm; padding: 0; }
.face-row { display: grid; grid-template-columns: 30mm 64mm 1fr; gap: 4mm; align-items: start; }
.face-row figure + figure { margin-top: 2mm; }
.face-row figure img { border-radius: 1mm; }
.face-row p:first-child { margin-top: 0; }
.legend { margin-top: 1mm; border: 0 !important; }
.badge { display: inline-block; font-size: 8.5pt; font-weight: 600; padding: 0.3mm 2mm; border-radius: 2mm;
         background: #fde9cf; color: #7a4100; vertical-align: middle; margin-left: 2mm; }
.trust { font-size: 9.5pt; }
.face-row > div { min-width: 0; overflow-wrap: break-word; }
@media print { .face { break-inside: avoid; page-break-inside: avoid; }
               .badge { -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
"""


# ---- pictures ----------------------------------------------------------------------------------------------

def jpeg_bytes(rgb: np.ndarray, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def report_photo(rgb: np.ndarray, faces: Sequence["FaceResult"], blur: bool = True,
                 max_side: int = PHOTO_MAX_SIDE) -> np.ndarray:
    """The photo as the report shows it: faces pixelated (with `blur`) at full size first, then shrunk to
    `max_side` and boxed and labelled as on the Photo page."""
    out = blur_faces(rgb, [f.box for f in faces]) if blur and faces else rgb
    h, w = out.shape[:2]
    k = min(1.0, max_side / max(h, w))
    if k < 1.0:
        out = cv2.resize(out, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)
    return annotate(out, [replace(f, box=tuple(v * k for v in f.box)) for f in faces])


def pixelated(crop: np.ndarray) -> np.ndarray:
    """The crop pixelated as strongly as faces on the photo are."""
    h, w = crop.shape[:2]
    return blur_faces(crop, [(0, 0, w, h)], margin=0)


def region_outlines(image: np.ndarray, regions: Sequence[str] = OUTLINED) -> np.ndarray:
    """A copy of a crop-sized picture with thin white outlines of the named facial regions (the template
    areas the heatmap caption names), so a pixelated face still shows where its eyes and mouth are."""
    out = image.copy()
    labels = region_map(out.shape[0])
    for name in regions:
        mask = (labels == REGIONS.index(name)).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def heatmap_picture(crop: np.ndarray, expl: "Explanation", blur: bool) -> np.ndarray:
    """The explanation over its crop, or with `blur` over the pixelated crop with region outlines; twice
    the crop's size so it prints sharp."""
    base = pixelated(crop) if blur else crop
    pic = overlay(base, expl.heatmap, expl.signed)
    pic = cv2.resize(pic, (pic.shape[1] * 2, pic.shape[0] * 2), interpolation=cv2.INTER_CUBIC)
    return region_outlines(pic) if blur else pic


def scores_png(probs: dict[str, float], title: str = "") -> bytes:
    """All scores as horizontal bars, the highest on top, in the class colours, labelled in percent."""
    pairs = ranked(probs)
    names, values = [n for n, _ in pairs], [float(v) for _, v in pairs]
    fig = Figure(figsize=(2.9, 1.9), dpi=200)
    ax = fig.add_axes((0.28, 0.03, 0.58, 0.83 if title else 0.93))
    y = np.arange(len(names))[::-1]
    ax.barh(y, values, color=[hex_color(n) if n in COLORS_RGB else "#888888" for n in names], height=0.72)
    for yi, v in zip(y, values):
        ax.text(v + 0.02, yi, f"{v:.0%}", va="center", fontsize=8.5)
    ax.set_yticks(y, names, fontsize=9)
    ax.set_xlim(0, 1)
    ax.set_xticks([])
    ax.tick_params(axis="y", length=0, pad=3)
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, fontsize=9.5, loc="left", pad=3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


# ---- words -------------------------------------------------------------------------------------------------

def _inline(markdown: str) -> str:
    """Escaped text with the captions' **bold** and *italic* as HTML."""
    text = escape(markdown, quote=False)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    return re.sub(r"\*(.+?)\*", r"<i>\1</i>", text)


def _scores_alt(i: int, probs: dict[str, float]) -> str:
    return f"Bar chart of Face {i}'s scores: " + ", ".join(f"{c} {v:.0%}" for c, v in ranked(probs)) + "."


def _header(name: str, rgb: np.ndarray, faces: Sequence["FaceResult"], card: dict[str, Any] | None,
            detector: str | None, method: str | None) -> str:
    model = (card or {}).get("name") or "unknown"
    facts = [("Photo", f"{rgb.shape[1]}x{rgb.shape[0]} pixels"),
             ("Faces", f"{len(faces)} found" if faces else "none found"),
             ("Model", model + (f", face finder {detector}" if detector else ""))]
    if method:
        facts.append(("Heatmaps", method))
    rows = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts)
    return (f"<header><h1>{escape(name)}</h1><p class=\"muted\">Facial-expression readings of a photo, by FER Lens"
            f"</p><dl class=\"facts\">{rows}</dl></header>")


def _photo_html(rgb: np.ndarray, faces: Sequence["FaceResult"], blur: bool) -> str:
    what = "; ".join(f"Face {i}: {f.label} {f.confidence:.0%}" for i, f in enumerate(faces, 1))
    state = "pixelated and boxed" if blur else "boxed"
    alt = (f"The photo with {len(faces)} face{'s' if len(faces) != 1 else ''} {state} in the colour of the "
           f"expression each resembles most. {what}." if faces else "The photo; no face was found in it.")
    note = ("Every face the face finder found is pixelated; a face it missed is not, so look at the picture "
            "before sharing this report." if blur else
            "Faces are <b>not</b> pixelated in this report: share it only with the consent of the people in it.")
    return (f"<h2>The photo</h2><figure class=\"photo\">{img_tag(jpeg_bytes(report_photo(rgb, faces, blur)), alt)}"
            f"<figcaption>Each box is numbered and coloured by the expression the model reads most strongly, with "
            f"its score. {note}</figcaption></figure>")


def _face_html(i: int, face: "FaceResult", expl: "Explanation | None", blur: bool) -> str:
    unsure = uncertainty(face.probs)
    badge = '<span class="badge">uncertain</span>' if unsure else ""
    pictures = []
    if not blur:
        seen = img_tag(png_bytes(face.crop), f"Face {i}, cropped and levelled as the model saw it")
        pictures.append(f"<figure>{seen}<figcaption>What the model saw</figcaption></figure>")
    words = []
    if expl is not None:
        title = expl.info.title
        about = (f"for {expl.target} rather than {expl.contrast}" if expl.signed else
                 "where the model looked" if not expl.info.class_specific else f"for {expl.target}")
        alt = (f"{title} heatmap of Face {i} {about}" + (", over the pixelated face with the eyes, nose and "
                                                          "mouth outlined" if blur else ""))
        low, high = (expl.contrast, expl.target) if expl.signed else ("weak", "strong")
        scale = img_tag(png_bytes(legend(200, 36, expl.signed, low=low, high=high)),
                        f"Colour scale of the heatmap, from {low} to {high}", "legend")
        where = " over the pixelated face; white lines: eyes and brows, nose, mouth" if blur else ""
        pictures.append(f"<figure>{img_tag(png_bytes(heatmap_picture(face.crop, expl, blur)), alt)}{scale}"
                        f"<figcaption>{escape(title)} heatmap{where}</figcaption></figure>")
        words.append(f"<p>{_inline(caption(expl, face.movements))}</p>")
        if expl.faithfulness is not None:
            verdict = TRUST_WORDS.get(expl.faithfulness.verdict, "Trust check")
            words.append(f'<p class="trust"><b>How far to trust this map ({escape(verdict.lower())}):</b> '
                         f"{_inline(expl.trust_hint or '')}</p>")
        else:
            words.append('<p class="trust small muted">The trust check of this map had not run yet.</p>')
    else:
        words.append('<p class="small muted">No heatmap for this face (the Photo page draws heatmaps for the first '
                     "faces only).</p>")
    if unsure:
        words.append(f"<p class=\"small\"><b>Uncertain:</b> {escape(unsure)}. Read this face with extra care.</p>")
    found = notable(face.movements) if face.movements is not None else []
    if found:
        words.append("<p class=\"small muted\">Measured on the face: "
                     f"{escape('; '.join(w for _, _, w in found))}. A movement is not a feeling.</p>")
    chart = img_tag(scores_png(face.probs, "Score for each expression"), _scores_alt(i, face.probs), "plot")
    return (f'<section class="face" data-face="{i}"><h2>Face {i}: {escape(face.label)} ({face.confidence:.0%}){badge}'
            f'</h2><div class="face-row"><div>{"".join(pictures)}</div><div>{chart}</div>'
            f'<div class="words">{"".join(words)}</div></div></section>')


# ---- the page ----------------------------------------------------------------------------------------------

def photo_report_html(image_rgb: np.ndarray, faces: Sequence["FaceResult"],
                      explanations: Sequence["Explanation | None"], card: dict[str, Any] | None, blur: bool = True,
                      *, name: str = "Photo", detector: str | None = None) -> bytes:
    """The report as UTF-8 HTML bytes. `explanations[i]` is face i's heatmap as the Photo page drew it (with
    its trust check when that has run), or None / missing for a face without one."""
    expls = list(explanations) + [None] * (len(faces) - len(explanations))
    method = next((e.info.title for e in expls if e is not None), None)
    parts = [f"<style>{EXTRA_CSS}</style>", _header(name, image_rgb, faces, card, detector, method), notice_html(),
             _photo_html(image_rgb, faces, blur)]
    if faces:
        parts.append("<h2>The faces</h2><p class=\"small muted intro\">Each face's scores add up to 100% over the "
                     "8 expressions: how much the face looks like the faces people labelled with each one. Heatmaps "
                     "colour the parts of the face that drove the score (warm = strong); the trust check hides those "
                     "parts and measures whether the score really drops.</p>")
        parts += [_face_html(i, f, e, blur) for i, (f, e) in enumerate(zip(faces, expls), 1)]
    else:
        parts.append("<p>No face was found in this photo, so there are no readings. Faces that are very small, "
                     "strongly turned away, covered or in poor light are often missed.</p>")
    parts += ["<h2>The model</h2>", card_summary_html(card),
              f"<footer>Made with FER Lens {escape(__version__)} on this computer; the photo was not uploaded "
              "anywhere.</footer>"]
    return page(f"{name}: facial-expression report", "\n".join(parts)).encode("utf-8")
