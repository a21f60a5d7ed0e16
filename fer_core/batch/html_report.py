"""Printable HTML building blocks shared by FER Lens's reports (a clip's report, a batch's summary, a photo's).

A report is one self-contained file: CSS inline, pictures as data URIs, no scripts and nothing fetched, so it
opens the same from a USB stick, prints on A4, and can be sent as it is. Every picture has alt text.
"""
from __future__ import annotations

import base64
from html import escape
from typing import Any, Iterable, Sequence

from fer_core.card import scores

CSS = """
:root { --ink: #1d1d1f; --muted: #5a5a60; --line: #d6d6dc; --soft: #f4f4f7; --accent: #0072b2; }
* { box-sizing: border-box; }
body { font-family: "Helvetica Neue", Helvetica, Arial, "Liberation Sans", "DejaVu Sans", sans-serif;
       color: var(--ink); font-size: 10.5pt; line-height: 1.4; max-width: 190mm; margin: 0 auto; padding: 8mm; }
h1 { font-size: 17pt; margin: 0 0 2mm; }
h2 { font-size: 12.5pt; margin: 6mm 0 2mm; padding-bottom: 1mm; border-bottom: 1px solid var(--line); }
h3 { font-size: 11pt; margin: 4mm 0 1mm; }
p { margin: 1.5mm 0; }
.muted { color: var(--muted); }
.small { font-size: 9pt; }
table { border-collapse: collapse; width: 100%; margin: 2mm 0; font-size: 9.5pt; }
th, td { border-bottom: 1px solid var(--line); padding: 1.2mm 2mm; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td:first-child { white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.8mm 5mm; margin: 2mm 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.notice { border-left: 3px solid var(--accent); background: var(--soft); padding: 2mm 4mm; margin: 3mm 0; }
.notice h2 { border: 0; margin: 0 0 1mm; font-size: 11pt; }
.notice p { font-size: 9.5pt; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(42mm, 1fr)); gap: 3mm; }
figure { margin: 0; }
figure img { width: 100%; height: auto; display: block; border: 1px solid var(--line); }
figcaption { font-size: 8.5pt; color: var(--muted); margin-top: 1mm; }
img.plot { width: 100%; height: auto; display: block; }
footer { margin-top: 8mm; font-size: 8.5pt; color: var(--muted); border-top: 1px solid var(--line);
         padding-top: 2mm; }
@page { size: A4; margin: 15mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  a { color: inherit; text-decoration: none; }
  h2, h3, .intro { break-after: avoid; page-break-after: avoid; }
  figure, table, tr, img, .notice, .face { break-inside: avoid; page-break-inside: avoid; }
  .notice, th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def page(title: str, body_html: str) -> str:
    """A complete HTML5 document around `body_html` (already HTML), with the shared print-ready CSS."""
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body_html}\n</body>\n</html>\n")


def _mime(data: bytes) -> str:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    raise ValueError("img_tag takes PNG or JPEG bytes")


def img_tag(png_bytes: bytes, alt: str, css_class: str | None = None) -> str:
    """An <img> with the picture inline (PNG or JPEG bytes) and alt text, which may not be empty."""
    if not alt.strip():
        raise ValueError("every picture in a report needs alt text")
    data = base64.b64encode(png_bytes).decode("ascii")
    cls = f' class="{escape(css_class)}"' if css_class else ""
    return f'<img{cls} src="data:{_mime(png_bytes)};base64,{data}" alt="{escape(alt)}">'


def table_html(headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[int] = ()) -> str:
    """A plain table; cells are escaped text, columns listed in `numeric` are right-aligned."""
    cls = lambda i: ' class="num"' if i in numeric else ""  # noqa: E731
    head = "".join(f"<th{cls(i)}>{escape(str(h))}</th>" for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f"<td{cls(i)}>{escape(str(v))}</td>" for i, v in enumerate(r)) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def pct(v: float | None) -> str:
    return "–" if v is None else f"{float(v):.0%}"


def clock(seconds: float, digits: int = 1) -> str:
    """A time or length people read at a glance: "4.5 s" under a minute, "12 min 05 s" from then on."""
    if seconds < 60:
        return f"{seconds:.{digits}f} s"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m} min {s:02d} s"


NOTICE_TITLE = "What these numbers are, and what they are not"


def notice_html() -> str:
    """What the readings mean and the legal limit on their use, for every report."""
    return (
        '<section class="notice">'
        f"<h2>{NOTICE_TITLE}</h2>"
        "<p>Each number says how much a visible face <b>resembles</b> faces that people labelled with each "
        "facial expression (the FER+ labels). It is a reading of the face's surface, not of the person: it "
        "does not tell what anyone feels, whether they are paying attention, or how well they are doing, and "
        "it is not a judgement of anybody. A face can look sad while its owner is fine; the model is often "
        "unsure, and it is wrong more often on faces, lighting and angles unlike its training photos.</p>"
        "<p>In the European Union, the AI Act (Article 5(1)(f)) forbids AI systems that infer what people in "
        "schools and workplaces feel, except for medical or safety reasons. FER Lens is for teaching how "
        "such systems read faces and where they fail; never use it to judge or grade pupils, students or "
        "staff.</p></section>")


def card_summary_html(card: dict[str, Any] | None) -> str:
    """The model in a few lines from its card: name, training data and measured accuracy, where present."""
    card = card if isinstance(card, dict) else {}
    data = card.get("data") if isinstance(card.get("data"), dict) else {}
    facts = [("Model", card.get("name") or "unknown"), ("Network", card.get("architecture")),
             ("Trained on", data.get("train")),
             ("Expressions", ", ".join(map(str, card.get("labels") or [])))]
    found = scores(card)
    if found:
        where = "FER+ test faces" if found.held_out else "FER+ validation faces"
        n = found.metrics.get("n")
        where += f" ({n:,} faces never used for training)" if n and found.held_out else (f" ({n:,})" if n else "")
        facts.append(("Accuracy", f"{pct(found.metrics.get('accuracy'))} on {where}"))
        if found.metrics.get("macro_f1") is not None:
            facts.append(("Macro-F1", f"{found.metrics['macro_f1']:.2f} (the average over the expressions, so "
                                      "rare ones count as much as common ones)"))
    rows = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in facts if v)
    caveat = ("" if not found else "<p class=\"small muted\">Measured on cropped, front-facing photos. On video "
              "of real rooms, with turned heads, poor light and small faces, expect it to be right less "
              "often.</p>")
    return f'<dl class="facts">{rows}</dl>{caveat}'
