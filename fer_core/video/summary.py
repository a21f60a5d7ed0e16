"""What one face's timeline adds up to: time per expression, changes, observable engagement indicators, and
the key moments worth a closer look. Plain functions of arrays, so they are easy to test and reuse.

Everything here is an observation about the *visible face* (in view, turned to the camera, which
expression it most resembles); nothing is a score of attention, interest or feeling.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fer_core.evaluation.uncertainty import UNCERTAIN_MARGIN, UNCERTAIN_TOP, flagged

MIN_CHANGE_S = 0.6  # an expression must hold this long to count as a change (blinks and flicker do not)
PEAK_HEIGHT = 0.5  # a peak: the expression's smoothed score reaches at least this ...
PEAK_PROMINENCE = 0.2  # ... and stands out this much from its surroundings
MAX_MOMENTS = 8  # per face, so the list stays readable on a long clip


@dataclass(frozen=True)
class KeyMoment:
    """A moment of one face worth looking at: where an expression peaks, or where it changes."""

    track: int
    t: float
    kind: str  # "peak" or "change"
    label: str  # the expression at that moment
    score: float  # its smoothed score then
    previous: str | None = None  # for a change: the expression before

    @property
    def title(self) -> str:
        if self.kind == "change":
            return f"{self.previous} → {self.label}"
        return f"{self.label} peaks ({self.score:.0%})"

    def to_json(self) -> dict:
        d = {"track": self.track, "time_s": round(self.t, 3), "kind": self.kind, "label": self.label,
             "score": round(self.score, 4)}
        if self.previous:
            d["previous"] = self.previous
        return d


@dataclass
class TrackSummary:
    """One face over the clip, in observations."""

    track: int
    first_s: float
    last_s: float
    visible_s: float  # sampled time with this face found (samples x sampling interval)
    visible_share: float  # of the whole clip
    facing_share: float | None  # of the visible time with the head turned < 30 degrees; None: no landmarks
    expression_share: dict[str, float]  # share of the visible time each expression was the top one
    dominant: str
    changes: int
    uncertain_share: float  # of the visible time the top expression was unsure (report.UNCERTAIN_RULE)
    mean_probs: dict[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"Face {self.track}"

    def to_json(self) -> dict:
        r = lambda v: None if v is None else round(float(v), 4)  # noqa: E731
        return {"track": self.track, "name": self.name, "first_s": r(self.first_s), "last_s": r(self.last_s),
                "visible_s": r(self.visible_s), "visible_share": r(self.visible_share),
                "facing_camera_share": r(self.facing_share),
                "expression_share": {k: r(v) for k, v in self.expression_share.items()},
                "dominant": self.dominant, "changes": self.changes, "uncertain_share": r(self.uncertain_share),
                "mean_probs": {k: r(v) for k, v in self.mean_probs.items()}}


def uncertain_mask(probs: np.ndarray) -> np.ndarray:
    """Per row: is the top expression unsure? (the Photo page's rule, vectorised)"""
    return flagged(probs, UNCERTAIN_TOP, UNCERTAIN_MARGIN)


def stable_labels(times: np.ndarray, probs: np.ndarray, min_s: float = MIN_CHANGE_S) -> np.ndarray:
    """Top expression per sample, with runs shorter than `min_s` folded into the run before them, so a
    one-frame flicker is not read as a change of expression. (The first run always stands.)"""
    top = probs.argmax(axis=1)
    if len(top) < 2:
        return top
    step = float(np.median(np.diff(times)))
    bounds = np.flatnonzero(np.diff(top)) + 1
    starts, ends = np.concatenate([[0], bounds]), np.concatenate([bounds, [len(top)]])
    stable = top.copy()
    current = top[0]
    for s, e in zip(starts[1:], ends[1:]):
        length = (times[e] if e < len(top) else times[-1] + step) - times[s]
        if length >= min_s - 1e-9:
            current = top[s]
        stable[s:e] = current
    return stable


def summarise(track: int, times: np.ndarray, probs: np.ndarray, facing: np.ndarray, labels: tuple[str, ...],
              clip_s: float, step_s: float) -> TrackSummary:
    """Summary of one face: `times` (N,), smoothed `probs` (N, C), `facing` (N,) 1/0, NaN when unknown."""
    top = probs.argmax(axis=1)
    share = np.bincount(top, minlength=len(labels)) / max(len(top), 1)
    stable = stable_labels(times, probs)
    known = facing[~np.isnan(facing)]
    return TrackSummary(
        track=track, first_s=float(times[0]), last_s=float(times[-1]), visible_s=len(times) * step_s,
        visible_share=min(1.0, len(times) * step_s / clip_s) if clip_s > 0 else 1.0,
        facing_share=float(known.mean()) if len(known) else None,
        expression_share={c: float(s) for c, s in zip(labels, share)},
        dominant=labels[int(share.argmax())], changes=int((np.diff(stable) != 0).sum()),
        uncertain_share=float(uncertain_mask(probs).mean()),
        mean_probs={c: float(p) for c, p in zip(labels, probs.mean(axis=0))})


def key_moments(track: int, times: np.ndarray, probs: np.ndarray, labels: tuple[str, ...],
                max_moments: int = MAX_MOMENTS, neutral: str = "neutral") -> list[KeyMoment]:
    """Peaks of each non-neutral expression and the changes of the stable expression, at most
    `max_moments` (changes first, then the highest peaks), in time order."""
    stable = stable_labels(times, probs)
    changes = [KeyMoment(track, float(times[i]), "change", labels[stable[i]], float(probs[i, stable[i]]),
                         labels[stable[i - 1]]) for i in np.flatnonzero(np.diff(stable)) + 1]
    peaks = []
    if len(times) > 1:
        from scipy.signal import find_peaks  # here, not at the top: scipy.signal takes ~1 s to import, and
        # the Photo page's report imports this module without needing it
        step = float(np.median(np.diff(times))) or 1.0
        for c, name in enumerate(labels):
            if name == neutral:
                continue
            series = np.concatenate([[0.0], probs[:, c], [0.0]])  # so a peak at either end still counts
            idx, _ = find_peaks(series, height=PEAK_HEIGHT, prominence=PEAK_PROMINENCE,
                                distance=max(1, int(round(1.0 / step))))
            peaks += [KeyMoment(track, float(times[i - 1]), "peak", name, float(probs[i - 1, c])) for i in idx]
    elif len(times) == 1:
        c = int(probs[0].argmax())
        if labels[c] != neutral and probs[0, c] >= PEAK_HEIGHT:
            peaks.append(KeyMoment(track, float(times[0]), "peak", labels[c], float(probs[0, c])))
    by_score = lambda ms: sorted(ms, key=lambda m: -m.score)  # noqa: E731
    changes, peaks = by_score(changes), by_score(peaks)
    half = max_moments // 2
    candidates = changes[:half] + peaks[:half] + by_score(changes[half:] + peaks[half:])
    chosen: dict[float, KeyMoment] = {}
    for m in candidates:
        if len(chosen) >= max_moments:
            break
        chosen.setdefault(round(m.t, 3), m)
    return sorted(chosen.values(), key=lambda m: m.t)


def describe(summary: TrackSummary, min_share: float = 0.05) -> list[str]:
    """The summary as short plain-words observations (for the page and the command line)."""
    mix = sorted(((k, v) for k, v in summary.expression_share.items() if v >= min_share), key=lambda kv: -kv[1])
    lines = [f"In view {summary.visible_s:.0f} s ({summary.visible_share:.0%} of the clip), "
             f"from {summary.first_s:.1f} s to {summary.last_s:.1f} s."]
    if summary.facing_share is not None:
        lines.append(f"Head turned towards the camera (less than 30°) {summary.facing_share:.0%} of that time.")
    lines.append("Looked most like: " + ", ".join(f"**{k}** {v:.0%}" for k, v in mix) + " of the time.")
    changes = {0: "no change of expression", 1: "1 change of expression"}.get(
        summary.changes, f"{summary.changes} changes of expression")
    lines.append(f"{changes[0].upper()}{changes[1:]} (holding at least {MIN_CHANGE_S:g} s); the model was "
                 f"unsure {summary.uncertain_share:.0%} of the time.")
    return lines
