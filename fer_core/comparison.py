"""Two readings side by side in plain words: two faces under one model, or one face under two models.

The Compare page shows both sides' scores and heatmaps; this says what differs, in points (the gap between
two rounded percentages, as the page prints them), and what that difference means and does not mean. Pure
functions of the scores, so they are tested without Streamlit or a model.
"""
from __future__ import annotations

from dataclasses import dataclass

from fer_core.evaluation.uncertainty import uncertainty

CLOSE_POINTS = 10  # scores within this many points of each other read as "about the same"


def points(p: float) -> int:
    """A score as the whole percentage the page prints (0.876 -> 88)."""
    return int(round(float(p) * 100))


def top(probs: dict[str, float]) -> tuple[str, float]:
    label = max(probs, key=probs.get)
    return label, float(probs[label])


@dataclass(frozen=True)
class Difference:
    """What separates two readings: each side's answer, the gap on the left side's answer, the expression
    they differ on most, and sentences saying so."""

    left_top: str
    right_top: str
    gap: int  # points between the two sides' scores for the left side's top expression
    widest: str  # the expression whose scores differ most
    widest_gap: int
    same_answer: bool
    sentences: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


def _widest(left: dict[str, float], right: dict[str, float]) -> tuple[str, int]:
    shared = [c for c in left if c in right]
    name = max(shared, key=lambda c: (abs(points(left[c]) - points(right[c])), -shared.index(c)))
    return name, abs(points(left[name]) - points(right[name]))


def compare_models(left: dict[str, float], right: dict[str, float], left_name: str, right_name: str) -> Difference:
    """One face under two models: do they give the same answer, how far apart are they, and why neither
    number is the truth."""
    (lt, lp), (rt, rp) = top(left), top(right)
    gap = abs(points(lp) - points(right.get(lt, 0.0)))
    widest, widest_gap = _widest(left, right)
    said: list[str] = []
    if lt == rt:
        said.append(f"Both models read this face as **{lt}**: {left_name} gives it {points(lp)}%, "
                    f"{right_name} {points(rp)}%.")
    else:
        said.append(f"The two models give different answers: {left_name} reads **{lt}** ({points(lp)}%), "
                    f"{right_name} reads **{rt}** ({points(rp)}%).")
    if widest_gap < CLOSE_POINTS:
        said.append(f"They broadly agree: no expression's score differs by more than {widest_gap} points.")
    elif gap >= CLOSE_POINTS:  # the left model's answer is where the difference shows first
        said.append(f"**The two models disagree by {gap} points on {lt}; neither is the truth.**")
    else:
        said.append(f"**The two models disagree by {widest_gap} points on {widest}; neither is the truth.**")
    said.append("Both learned from the same FER+ photos, each in its own way, so each score says how much this "
                "face resembles faces people labelled that way, as that model learned it. A difference this size "
                "is a reason to read the face with care, not to pick the higher number.")
    unsure = [n for n, p in ((left_name, left), (right_name, right)) if uncertainty(p)]
    if unsure:
        said.append(f"{'Both models are' if len(unsure) > 1 else unsure[0] + ' is'} unsure about this face "
                    "(marked *uncertain*).")
    return Difference(lt, rt, gap, widest, widest_gap, lt == rt, tuple(said))


def compare_faces(left: dict[str, float], right: dict[str, float], left_name: str = "Face A",
                  right_name: str = "Face B") -> Difference:
    """Two faces under one model: what each looks most like, and where they differ most."""
    (lt, lp), (rt, rp) = top(left), top(right)
    gap = abs(points(lp) - points(right.get(lt, 0.0)))
    widest, widest_gap = _widest(left, right)
    said: list[str] = []
    if lt == rt:
        said.append(f"Both faces look most like **{lt}**: {left_name} {points(lp)}%, {right_name} {points(rp)}%.")
    else:
        said.append(f"{left_name} looks most like **{lt}** ({points(lp)}%), {right_name} most like **{rt}** "
                    f"({points(rp)}%).")
    if widest_gap < CLOSE_POINTS:
        said.append(f"Their scores are close: no expression differs by more than {widest_gap} points.")
    else:
        more, less = ((left_name, right_name) if left[widest] > right[widest] else (right_name, left_name))
        said.append(f"They differ most on {widest}: {more} scores {widest_gap} points higher than {less}.")
    said.append("This compares how the two faces look to the model, not how the two people feel.")
    unsure = [n for n, p in ((left_name, left), (right_name, right)) if uncertainty(p)]
    if unsure:
        said.append(f"The model is unsure about {'both faces' if len(unsure) > 1 else unsure[0]} (marked "
                    "*uncertain*).")
    return Difference(lt, rt, gap, widest, widest_gap, lt == rt, tuple(said))
