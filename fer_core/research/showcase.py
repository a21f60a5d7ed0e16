"""Which packaged sample the app should show first, measured rather than picked by eye.

For every face of every sample in `fer_core.samples.SAMPLES` (they ship with installed packages, so the
choice works without ../shared), read as the Photo page reads it (the default face finder, the mirrored
pass): its top expression and confidence, whether the model calls it unsure, and whether the default
heatmap method's map of that expression passes the trust check the Photo page runs (`check_faithfulness`,
the same fast deletion/insertion check behind each card's "How far to trust this map"). For the
Robustness page: how far each change of `fer_core.evaluation.perturb` moves the face's top score.

The choice:
- Home: a face whose map passes outright ("faithful") and whose reading is not unsure, the one that beats
  the centre blob by most; when none passes, the face with the best verdict, then the widest lead over the
  blob, and the report says that none passed.
- Robustness: the change that lowers the top score most (or changes the answer), on a face whose reading is
  not unsure before the change; the Home face first, when one of its changes moves the score visibly.

    fer-lens showcase [--method occlusion] [--detector blazeface] [--json]
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

VISIBLE_DROP = 0.2  # a change "visibly moves the scores" when the top score falls by this much, or the answer changes
VERDICT_RANK = {"faithful": 2, "partial": 1, "weak": 0}


@dataclass
class FaceMeasure:
    sample: str
    face: int  # index in reading order (face 1 on the page is 0)
    label: str
    confidence: float
    unsure: bool
    verdict: str  # of the default method's map of `label`
    gap: float  # the map's relative insertion-deletion gap
    blob_gap: float  # the same for a plain blob on the face centre (the bar a map must clear)
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)  # change -> {score, drop, label}

    @property
    def lead(self) -> float:
        return self.gap - self.blob_gap

    def best_change(self) -> tuple[str, dict[str, Any]] | None:
        visible = {k: v for k, v in self.changes.items() if v["drop"] >= VISIBLE_DROP or v["label"] != self.label}
        if not visible:
            return None
        return max(visible.items(), key=lambda kv: (kv[1]["drop"], kv[1]["label"] != self.label))


def measure(model: str | None = None, detector: str | None = None, method: str | None = None) -> list[FaceMeasure]:
    """Every face of every packaged sample, measured as described above."""
    from fer_core.detection.registry import DEFAULT_DETECTOR
    from fer_core.evaluation.robustness import face_under_perturbations
    from fer_core.evaluation.uncertainty import is_uncertain
    from fer_core.explain.attribution import check_faithfulness, explain
    from fer_core.explain.registry import DEFAULT_METHOD
    from fer_core.recognizer import Recognizer
    from fer_core.samples import SAMPLES, sample_rgb

    recognizer = Recognizer(model, detector=detector or DEFAULT_DETECTOR)
    loaded, labels = recognizer.loaded, recognizer.labels
    out = []
    for name in SAMPLES:
        for i, face in enumerate(recognizer.analyze_rgb(sample_rgb(name))):
            checked = check_faithfulness(loaded, face.crop, explain(loaded, face.crop, method or DEFAULT_METHOD,
                                                                    face.label))
            report = checked.faithfulness
            top = labels.index(face.label)
            changes = {}
            for change, (_, probs) in face_under_perturbations(recognizer.classify_crops, face.crop).items():
                if change != "original":
                    changes[change] = {"score": round(float(probs[top]), 4),
                                       "drop": round(face.confidence - float(probs[top]), 4),
                                       "label": labels[int(probs.argmax())]}
            out.append(FaceMeasure(name, i, face.label, round(face.confidence, 4), is_uncertain(face.probs),
                                   report.verdict, round(report.relative_gap, 4), round(report.reference_gap, 4),
                                   changes))
    return out


def choose(faces: list[FaceMeasure]) -> dict[str, Any]:
    """The Home sample and the Robustness face and change, with the reason in words."""
    if not faces:
        return {"home": None, "robustness": None, "why": "no packaged sample has a face the face finder finds"}
    sure = [f for f in faces if not f.unsure] or faces
    home = max(sure, key=lambda f: (VERDICT_RANK.get(f.verdict, -1), f.lead))
    passed = home.verdict == "faithful"
    why = [f"Home: {home.sample}, face {home.face + 1} ({home.label} {home.confidence:.0%}): its map is "
           f"{home.verdict}, {home.lead:+.2f} against the centre blob"
           + ("." if passed else "; no packaged face's map passes the trust check outright.")]
    best = home.best_change()
    options = [(home, *best)] if best else [(f, *b) for f in sure if (b := f.best_change()) is not None]
    robust = max(options, key=lambda o: o[2]["drop"]) if options else None
    if robust is None:
        why.append(f"Robustness: no change moves any sure reading by {VISIBLE_DROP:.0%} or changes its answer.")
        return {"home": asdict(home), "home_passed": passed, "robustness": None, "why": " ".join(why)}
    f, change, effect = robust
    why.append(f"Robustness: {f.sample}, face {f.face + 1}, {change}: {f.label} {f.confidence:.0%} -> "
               f"{effect['score']:.0%}" + (f", read as {effect['label']}" if effect["label"] != f.label else "") + ".")
    return {"home": asdict(home), "home_passed": passed,
            "robustness": {"sample": f.sample, "face": f.face, "change": change, **effect}, "why": " ".join(why)}


def table(faces: list[FaceMeasure]) -> list[str]:
    """The measurements as text lines, one per face, then its biggest changes."""
    lines = [f"{'sample':<18} face  reading          unsure  map        gap  blob   lead  biggest changes (top score)"]
    for f in faces:
        moves = sorted(f.changes.items(), key=lambda kv: -kv[1]["drop"])[:3]
        said = ", ".join(f"{k} {v['score']:.0%}" + (f" ({v['label']})" if v["label"] != f.label else "")
                         for k, v in moves)
        unsure = "yes" if f.unsure else "no"
        lines.append(f"{f.sample:<18} {f.face + 1:>4}  {f.label:<10} {f.confidence:>4.0%}  {unsure:<6}"
                     f"  {f.verdict:<9} {f.gap:>5.2f} {f.blob_gap:>5.2f} {f.lead:>+6.2f}  {said}")
    return lines
