"""Figures for the pages: Plotly charts, and each face's score bars in plain HTML (`score_bars`). Plain
functions of numbers, so tests can build them without Streamlit.

They work in the light and the dark theme alike: backgrounds are transparent and text takes the theme's colour
(Streamlit's chart theme), and the only fixed colours are the colour-blind-safe class colours
(`fer_core.labels`) and mid greys (MID_GREY) that read on white and on near-black."""
from __future__ import annotations

from html import escape

import plotly.graph_objects as go

from fer_core.labels import hex_color
from fer_core.report import ranked

_MARGIN = dict(l=0, r=10, t=36, b=0)
MID_GREY = "#8C8C8C"  # lines and marks that must show on the light and the dark background
CLEAR = "rgba(0,0,0,0)"  # the page's own background shows through, in either theme


def themed(fig: go.Figure) -> go.Figure:
    """Transparent backgrounds, so a figure sits on the light or the dark theme alike."""
    fig.update_layout(paper_bgcolor=CLEAR, plot_bgcolor=CLEAR)
    return fig


def text_on(colour: str) -> str:
    """Black or white, whichever reads better on `colour` (a #rrggbb fill)."""
    r, g, b = (int(colour.lstrip("#")[k:k + 2], 16) / 255 for k in (0, 2, 4))
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    luminance = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    return "#000000" if (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) else "#FFFFFF"


def _colour(name: str) -> str:
    try:
        return hex_color(name)
    except KeyError:
        return "#888888"


TRACK = "rgba(140,140,140,0.22)"  # the empty part of a score bar: a mid grey that shows on either theme


def score_bars(probs: dict[str, float], title: str = "") -> str:
    """All class scores as horizontal bars in plain HTML (for `st.html`), the highest on top, in the class
    colours, each row's name and percent as text.

    Why HTML, not a chart: a group photo shows one of these per face, and on 2 cores six Plotly charts held
    the browser for about a second, which slowed the heatmaps computed meanwhile; the first chart also
    waits for the browser to load Plotly itself (~1 s cold). Text rows are read out by screen readers and
    print as they look. The rest of the app's charts (timelines, confusion) stay Plotly."""
    pairs = ranked(probs)
    rows = []
    for name, value in pairs:
        width = f"{max(0.0, min(1.0, value)) * 100:.1f}%"
        rows.append(
            '<div style="display:flex;align-items:center;gap:0.5rem;margin:0.15rem 0">'
            f'<span style="flex:0 0 6.2rem;text-align:right">{escape(name)}</span>'
            f'<span style="flex:1 1 auto;height:0.8rem;border-radius:0.2rem;background:{TRACK}">'
            f'<span style="display:block;height:100%;width:{width};border-radius:0.2rem;'
            f'background:{_colour(name)}"></span></span>'
            f'<span style="flex:0 0 2.6rem;text-align:right;font-variant-numeric:tabular-nums">{value:.0%}</span>'
            "</div>")
    heading = f'<div style="font-weight:600;margin-bottom:0.3rem">{escape(title)}</div>' if title else ""
    label = escape(title or "Scores") + ": " + ", ".join(f"{escape(n)} {v:.0%}" for n, v in pairs)
    return (f'<div class="fer-score-bars" role="group" aria-label="{label}" style="font-size:0.85rem">'
            f"{heading}{''.join(rows)}</div>")


def recall_bars(recall: dict[str, float]) -> go.Figure:
    """Share of each expression's faces that the model named correctly."""
    names = list(recall)[::-1]
    values = [recall[n] for n in names]
    fig = go.Figure(go.Bar(x=values, y=names, orientation="h", marker_color=[_colour(n) for n in names],
                           text=[f"{v:.0%}" for v in values], textposition="outside", cliponaxis=False,
                           hovertemplate="%{y}: %{x:.1%} found<extra></extra>"))
    fig.update_layout(height=300, margin=_MARGIN, xaxis=dict(range=[0, 1.12], tickformat=".0%"),
                      showlegend=False, title=dict(text="Named correctly, per expression",
                                                   font=dict(size=14)))
    return themed(fig)


def confusion_heatmap(shares: list[list[float]], counts: list[list[int]], classes: list[str]) -> go.Figure:
    """Rows: the expression people labelled; columns: what the model said; cells: share of the row."""
    text = [[f"{s:.0%}" for s in row] for row in shares]
    fig = go.Figure(go.Heatmap(z=shares, x=classes, y=classes, text=text, texttemplate="%{text}",
                               customdata=counts, colorscale="Blues", zmin=0, zmax=1,
                               colorbar=dict(title="share", tickformat=".0%"),
                               hovertemplate="labelled %{y}, model said %{x}: %{z:.0%} "
                                             "(%{customdata} faces)<extra></extra>"))
    fig.update_layout(height=520, margin=dict(l=0, r=0, t=36, b=0),
                      xaxis=dict(title="what the model said", side="bottom", tickangle=-35),
                      yaxis=dict(title="what people labelled", autorange="reversed"),
                      title=dict(text="Who gets mistaken for whom", font=dict(size=14)))
    return themed(fig)


def reliability_diagram(bins: list[dict[str, float]]) -> go.Figure:
    """Bars: how often the model was right at each confidence level; the diagonal is 'as confident as
    it is right'."""
    mids = [(b["lo"] + b["hi"]) / 2 for b in bins]
    widths = [(b["hi"] - b["lo"]) * 0.9 for b in bins]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=mids, y=[b["accuracy"] for b in bins], width=widths, name="how often it was right",
                         marker_color="#0072B2", customdata=[[b["count"], b["confidence"]] for b in bins],
                         hovertemplate="confidence %{customdata[1]:.0%}: right %{y:.0%} of the time "
                                       "(%{customdata[0]} faces)<extra></extra>"))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly honest confidence",
                             line=dict(color=MID_GREY, dash="dash")))
    fig.update_layout(height=380, margin=dict(l=0, r=10, t=10, b=0), legend=dict(orientation="h", y=-0.2),
                      xaxis=dict(title="how sure the model said it was", range=[0, 1], tickformat=".0%"),
                      yaxis=dict(title="how often it was right", range=[0, 1], tickformat=".0%"))
    return themed(fig)


def robustness_bars(report: dict) -> go.Figure:
    """Test accuracy under each perturbation, with the clean accuracy as a dashed line."""
    rows = list(report["perturbations"].values())[::-1]
    clean = report["clean"]["accuracy"]
    fig = go.Figure(go.Bar(x=[r["accuracy"] for r in rows], y=[r["title"] for r in rows], orientation="h",
                           marker_color=["#D55E00" if r["accuracy_drop"] > 0.1 else "#0072B2" for r in rows],
                           text=[f"{r['accuracy']:.0%}" for r in rows], textposition="inside",
                           insidetextanchor="end", textfont=dict(color="white"),
                           customdata=[r["accuracy_drop"] for r in rows],
                           hovertemplate="%{y}: right %{x:.1%} of the time (%{customdata:.1%} less than on "
                                         "untouched faces)<extra></extra>"))
    fig.add_vline(x=clean, line_dash="dash", line_color=MID_GREY,
                  annotation_text=f"untouched faces: {clean:.0%}", annotation_position="top")
    fig.update_layout(height=340, margin=dict(l=0, r=10, t=40, b=0), showlegend=False,
                      xaxis=dict(range=[0, 1.05], tickformat=".0%", title="share of test faces read correctly"))
    return themed(fig)


def expression_key(classes: list[str] | tuple[str, ...]) -> str:
    """The colour of each expression, as used by the boxes on photos and by the score bars: one strip of
    labelled swatches in plain HTML (for `st.html`), each name in black or white, whichever reads on it."""
    cells = "".join(
        f'<span style="flex:1 1 0;padding:0.3rem 0.2rem;text-align:center;background:{_colour(c)};'
        f'color:{text_on(_colour(c))}">{escape(c)}</span>' for c in classes)
    return (f'<div class="fer-expression-key" role="list" aria-label="Colour of each facial expression" '
            f'style="display:flex;flex-wrap:wrap;border-radius:0.3rem;overflow:hidden;font-size:0.8rem">{cells}</div>')
