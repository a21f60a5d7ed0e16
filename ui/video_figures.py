"""Plotly figures for the Video page: one face's expression timeline with its uncertainty. Plain functions
of numbers, so tests can build them without Streamlit. Like `ui.figures`, they read in the light and the dark
theme: transparent backgrounds, theme-coloured text, class colours and mid greys only."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from fer_core.evaluation.uncertainty import UNCERTAIN_TOP
from fer_core.labels import hex_color
from fer_core.video.summary import KeyMoment

from .figures import MID_GREY, themed

NOT_IN_VIEW = "rgba(120,120,120,0.12)"


def _colour(name: str) -> str:
    try:
        return hex_color(name)
    except KeyError:
        return "#888888"


def _rgba(name: str, alpha: float) -> str:
    h = _colour(name).lstrip("#")
    return f"rgba({int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha})"


def gaps(times: np.ndarray, step: float, clip_s: float) -> list[tuple[float, float]]:
    """Spans of the clip in which this face was not found (before, between and after its sightings)."""
    if len(times) == 0:
        return [(0.0, clip_s)]
    out = []
    if times[0] > step / 2:
        out.append((0.0, float(times[0]) - step / 2))
    for a, b in zip(times[:-1], times[1:]):
        if b - a > 1.5 * step:
            out.append((float(a) + step / 2, float(b) - step / 2))
    if clip_s - times[-1] > 1.5 * step:
        out.append((float(times[-1]) + step / 2, clip_s))
    return out


def _with_gaps(times: np.ndarray, values: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Zeros just inside each gap, so stacked areas drop to nothing where the face was not seen instead
    of drawing a straight line across the gap."""
    ts, vs = [], []
    for i, t in enumerate(times):
        if i and t - times[i - 1] > 1.5 * step:
            ts += [times[i - 1] + step / 2, t - step / 2]
            vs += [np.zeros_like(values[i]), np.zeros_like(values[i])]
        ts.append(t)
        vs.append(values[i])
    return np.array(ts), np.array(vs)


def timeline_figure(times: np.ndarray, probs: np.ndarray, raw: np.ndarray, labels: Sequence[str], step: float,
                    clip_s: float, moments: Sequence[KeyMoment] = (), current_t: float | None = None,
                    height: int = 360) -> go.Figure:
    """Top: the smoothed scores of all expressions stacked to 100% over time. Bottom: how sure the model is
    (the top score, smoothed line and per-frame dots), with the 'uncertain' zone shaded. Grey spans: the
    face is not in view. Triangles: key moments. A dashed line: the moment shown in the frame viewer."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.07)
    t_plot, p_plot = _with_gaps(np.asarray(times), np.asarray(probs), step)
    for c, name in enumerate(labels):
        fig.add_trace(go.Scatter(
            x=t_plot, y=p_plot[:, c] if len(p_plot) else [], name=name, stackgroup="scores", mode="lines",
            line=dict(width=0.5, color=_colour(name)), fillcolor=_rgba(name, 0.75),
            hovertemplate=f"{name}: %{{y:.0%}} at %{{x:.1f}} s<extra></extra>"), row=1, col=1)
    if len(times):
        top_smooth = probs.max(axis=1)
        top_raw = raw.max(axis=1)
        t_line, v_line = _with_gaps(np.asarray(times), top_smooth[:, None], step)
        v_line = np.where(v_line[:, 0] > 0, v_line[:, 0], np.nan)  # break the line in the gaps
        fig.add_trace(go.Scatter(x=times, y=top_raw, mode="markers", name="top score, single frame",
                                 marker=dict(size=3, color="rgba(140,140,140,0.5)"), showlegend=False,
                                 hovertemplate="single frame: %{y:.0%} at %{x:.1f} s<extra></extra>"),
                      row=2, col=1)
        fig.add_trace(go.Scatter(x=t_line, y=v_line, mode="lines", name="how sure (top score)",
                                 line=dict(color=MID_GREY, width=2), connectgaps=False, showlegend=False,
                                 hovertemplate="top score: %{y:.0%} at %{x:.1f} s<extra></extra>"), row=2, col=1)
    fig.add_hrect(y0=0, y1=UNCERTAIN_TOP, fillcolor="rgba(230,159,0,0.13)", line_width=0, row=2, col=1)
    fig.add_annotation(x=0, xref="x2 domain", y=UNCERTAIN_TOP / 2, yref="y2", text=f"unsure below {UNCERTAIN_TOP:.0%}",
                       showarrow=False, xanchor="left", font=dict(size=10, color="#B07A00"))
    for a, b in gaps(np.asarray(times), step, clip_s):
        for row in (1, 2):
            fig.add_vrect(x0=a, x1=b, fillcolor=NOT_IN_VIEW, line_width=0, row=row, col=1)
    if moments:
        fig.add_trace(go.Scatter(
            x=[m.t for m in moments], y=[1.04] * len(moments), mode="markers", name="key moment",
            marker=dict(symbol="triangle-down", size=11, color=[_colour(m.label) for m in moments],
                        line=dict(color=MID_GREY, width=1)),
            text=[m.title for m in moments], hovertemplate="%{text} at %{x:.1f} s<extra></extra>",
            showlegend=False, cliponaxis=False), row=1, col=1)
    if current_t is not None:
        for row in (1, 2):
            fig.add_vline(x=current_t, line=dict(color="#0072B2", width=2, dash="dash"), row=row, col=1)
    fig.update_layout(height=height, margin=dict(l=0, r=10, t=24, b=0), hovermode="closest",
                      legend=dict(orientation="h", y=-0.18, x=0, font=dict(size=11), traceorder="normal"))
    fig.update_yaxes(range=[0, 1.08], tickformat=".0%", title=dict(text="scores", font=dict(size=11)),
                     row=1, col=1)
    fig.update_yaxes(range=[0, 1], tickformat=".0%", tickvals=[0, UNCERTAIN_TOP, 1],
                     title=dict(text="how sure", font=dict(size=11)),
                     row=2, col=1)
    fig.update_xaxes(range=[0, max(clip_s, step)], row=1, col=1)
    fig.update_xaxes(range=[0, max(clip_s, step)], title=dict(text="time in the clip (seconds)",
                                                             font=dict(size=11)), row=2, col=1)
    return themed(fig)
