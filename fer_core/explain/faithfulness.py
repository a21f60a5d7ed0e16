"""How far an explanation can be trusted: deletion/insertion curves, Captum's infidelity and sensitivity,
and a one-line hint for non-experts.

Deletion hides the most important pixels first (replacing them with the blurred face) and watches the
class probability fall; insertion starts from the blurred face and reveals the most important pixels
first. A faithful map makes deletion fall fast (low AUC) and insertion rise fast (high AUC)
(Petsiuk et al. 2018, RISE).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from captum.metrics import infidelity, sensitivity_max
from torch import Tensor

ProbFn = Callable[[Tensor], Tensor]  # (N, C, H, W) inputs -> (N,) probability of the explained class
ExplainFn = Callable[[Tensor], Tensor]  # (N, C, H, W) inputs -> (N, C, H, W) attributions

# Trust thresholds on the relative gap: (insertion AUC - deletion AUC) / the highest probability either
# curve reaches. The gap is the area between the two curves; dividing by the peak makes classes the model
# finds unlikely comparable. Measured on the dev model (first 64 FER+ test faces, top class): a random
# pixel ranking scores about 0 (-0.01 mean, 90th percentile 0.12 on 96 faces), a plain blob on the face
# centre (`centre_prior`) 0.17, Grad-CAM 0.09, SmoothGrad 0.17, Guided Grad-CAM 0.27, occlusion 0.48 and
# Integrated Gradients 0.63. The centre blob scores 0.2-0.44 on many faces: any map gets credit for "the
# face matters, the background does not", so a map must also beat the blob on the same face.
FAITHFUL_GAP = 0.4  # ...and at least FAITHFUL_MARGIN above the centre blob
FAITHFUL_MARGIN = 0.1
PARTIAL_GAP = 0.2  # ...and above the centre blob
# Captum sensitivity_max under ~1% uniform input noise; on five photo faces Grad-CAM and occlusion moved
# by 0.04-0.06, Guided Grad-CAM and IG by about 0.3, SmoothGrad by about 0.6.
UNSTABLE_SENSITIVITY = 0.5


@dataclass
class FaithfulnessReport:
    fractions: np.ndarray  # share of pixels hidden / revealed at each step, 0..1
    deletion_curve: np.ndarray  # class probability as the top pixels are hidden
    insertion_curve: np.ndarray  # class probability as the top pixels are revealed
    deletion_auc: float  # lower is more faithful
    insertion_auc: float  # higher is more faithful
    full_prob: float  # class probability on the untouched face
    relative_gap: float  # (insertion_auc - deletion_auc) / peak probability on either curve
    reference_gap: float  # the same for a plain blob on the face centre, the bar to clear
    verdict: str  # "faithful" | "partial" | "weak"
    hint: str  # one plain-language sentence
    infidelity: float | None = None  # Captum infidelity (normalised scale), lower is better
    relative_infidelity: float | None = None  # infidelity / mean squared score change: 0 best, 1 uninformative
    sensitivity: float | None = None  # Captum sensitivity_max (relative), lower is more stable

    def to_json(self) -> dict:
        d = {k: getattr(self, k) for k in ("deletion_auc", "insertion_auc", "full_prob", "relative_gap",
                                            "reference_gap", "verdict", "hint",
                                            "infidelity", "relative_infidelity", "sensitivity")}
        d["deletion_curve"] = [round(float(v), 4) for v in self.deletion_curve]
        d["insertion_curve"] = [round(float(v), 4) for v in self.insertion_curve]
        return d


def auc(curve: np.ndarray) -> float:
    """Area under a curve sampled at equal steps over [0, 1] (trapezoid rule)."""
    curve = np.asarray(curve, dtype=np.float64)
    return float(((curve[:-1] + curve[1:]) / 2).mean()) if len(curve) > 1 else float(curve[0])


def ranking_masks(importance: Tensor, steps: int, seed: int = 0) -> Tensor:
    """(steps+1, 1, H, W) masks: step k covers the top k/steps of pixels by importance.

    Ties (the flat zero area of a ReLU'd Grad-CAM, say) are broken in a fixed random order, not row by
    row, which would hide the forehead first and credit the map for it."""
    h, w = importance.shape
    shuffle = torch.randperm(h * w, generator=torch.Generator().manual_seed(seed))
    by_value = torch.argsort(importance.flatten()[shuffle], descending=True, stable=True)
    order = shuffle[by_value]
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel())
    counts = torch.round(torch.linspace(0, h * w, steps + 1)).long()
    return (rank.view(1, 1, h, w) < counts.view(-1, 1, 1, 1)).float()


def centre_prior(h: int, w: int) -> Tensor:
    """A plain Gaussian blob on the middle of an aligned face (between the eyes and the mouth of
    `align.FER_TEMPLATE`): the "explanation" that knows nothing but where faces are."""
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    cy, cx, sigma = 0.585 * h, 0.5 * w, 0.25 * w
    return torch.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * sigma ** 2))


def deletion_insertion(prob_fn: ProbFn, x: Tensor, baseline: Tensor, importance: Tensor,
                       steps: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deletion and insertion curves for one face (x: (1, C, H, W)), all steps in one batch."""
    (fractions, deletion, insertion), = _curves(prob_fn, x, baseline, [importance], steps)
    return fractions, deletion, insertion


@torch.inference_mode()
def _curves(prob_fn: ProbFn, x: Tensor, baseline: Tensor, importances: list[Tensor], steps: int
            ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Deletion and insertion curves for several rankings of one face, in one batch."""
    masks = torch.cat([ranking_masks(imp.float(), steps) for imp in importances])
    deleted = x * (1 - masks) + baseline * masks
    inserted = baseline * (1 - masks) + x * masks
    probs = prob_fn(torch.cat([deleted, inserted])).float().numpy()
    half, n = len(masks), steps + 1
    fractions = np.linspace(0, 1, n)
    return [(fractions, probs[i * n:(i + 1) * n], probs[half + i * n: half + (i + 1) * n])
            for i in range(len(importances))]


def relative_gap(deletion: np.ndarray, insertion: np.ndarray) -> float:
    """(insertion AUC - deletion AUC) / the peak probability on either curve, in [-1, 1]."""
    peak = max(float(np.max(deletion)), float(np.max(insertion)), 1e-6)
    return (auc(insertion) - auc(deletion)) / peak


def trust_hint(gap: float, reference_gap: float = 0.0, sensitivity: float | None = None) -> tuple[str, str]:
    """("faithful" | "partial" | "weak", one sentence) from the map's relative insertion-deletion gap and
    that of the centre blob on the same face (thresholds above) and, when measured, the map's
    sensitivity to tiny input noise (UNSTABLE_SENSITIVITY)."""
    if gap >= FAITHFUL_GAP and gap >= reference_gap + FAITHFUL_MARGIN:
        verdict, text = "faithful", ("Faithful: hiding the highlighted areas first drops the score fast, "
                                     "and showing them first brings it back.")
    elif gap >= PARTIAL_GAP and gap > reference_gap:
        verdict, text = "partial", ("Partly faithful: the highlighted areas matter, but other parts of the "
                                    "face matter nearly as much.")
    else:
        verdict, text = "weak", ("Weak: hiding the highlighted areas changes the score no more than hiding "
                                 "the middle of the face, so read this map with care.")
    if sensitivity is not None and sensitivity > UNSTABLE_SENSITIVITY:
        text += " The map is also unstable: almost invisible changes to the photo change it a lot."
    return verdict, text


def _patch_perturbations(x: Tensor, baseline: Tensor, seed: int, patch_fraction: float = 0.25
                         ) -> tuple[Tensor, Tensor]:
    """One random square per sample replaced by the blurred face: (mask of the square, perturbed input).

    The mask is Captum's "multiply_by_inputs" perturbation (x - perturbed) / (x - baseline): our maps
    already say how much each pixel contributes, so infidelity compares the map's mass under the square
    with the score change, without multiplying by the pixel change a second time."""
    g = torch.Generator().manual_seed(seed)
    n, _, h, w = x.shape
    side = max(int(round(patch_fraction * w)), 1)
    ys = torch.randint(0, h - side + 1, (n,), generator=g)
    xs = torch.randint(0, w - side + 1, (n,), generator=g)
    mask = torch.zeros(n, 1, h, w)
    for i in range(n):
        mask[i, :, ys[i]: ys[i] + side, xs[i]: xs[i] + side] = 1
    perturbed = x * (1 - mask) + baseline.expand_as(x) * mask
    return mask.expand_as(x), perturbed


def captum_infidelity(score_fn: Callable[[Tensor], Tensor], x: Tensor, baseline: Tensor, attribution: Tensor,
                      n_perturb_samples: int = 16, seed: int = 0) -> tuple[float, float]:
    """Captum `infidelity` (normalize=True) under "hide one random square" perturbations, and the same
    value divided by the mean squared score change, which is 1 - (uncentred correlation)^2 between
    attribution mass under the square and the score change: 0 = perfect, 1 = the map tells nothing."""

    def perturb(inputs: Tensor) -> tuple[Tensor, Tensor]:
        return _patch_perturbations(inputs, baseline, seed)

    with torch.no_grad():
        infid = float(infidelity(score_fn, perturb, x, attribution, n_perturb_samples=n_perturb_samples,
                                 normalize=True)[0])
        # The same perturbations again (same seed) for the mean squared score change.
        _, perturbed = perturb(x.repeat_interleave(n_perturb_samples, dim=0))
        change = score_fn(x).flatten() - score_fn(perturbed).flatten()
        mean_sq = float((change ** 2).mean())
    return infid, (infid / mean_sq if mean_sq > 1e-12 else float("nan"))


def captum_sensitivity(explain_fn: ExplainFn, x: Tensor, radius_fraction: float = 0.01,
                       n_perturb_samples: int = 4, seed: int = 0) -> float:
    """Captum `sensitivity_max`: the largest relative change of the map under uniform noise of
    `radius_fraction` x the input's value range (about 1% = 2-3 grey levels)."""
    radius = float(radius_fraction * (x.max() - x.min()))
    g = torch.Generator().manual_seed(seed)

    def perturb(inputs: Tensor, perturb_radius: float) -> Tensor:
        noise = torch.rand(inputs.shape, generator=g) * 2 - 1
        return inputs + noise * perturb_radius

    return float(sensitivity_max(explain_fn, x, perturb_func=perturb, perturb_radius=radius,
                                 n_perturb_samples=n_perturb_samples)[0])


def _report(fractions: np.ndarray, deletion: np.ndarray, insertion: np.ndarray, ref_del: np.ndarray,
            ref_ins: np.ndarray, infid: float | None = None, rel_infid: float | None = None,
            sens: float | None = None) -> FaithfulnessReport:
    gap, ref_gap = relative_gap(deletion, insertion), relative_gap(ref_del, ref_ins)
    verdict, hint = trust_hint(gap, ref_gap, sens)
    return FaithfulnessReport(fractions, deletion, insertion, auc(deletion), auc(insertion), float(insertion[-1]),
                              gap, ref_gap, verdict, hint, infid, rel_infid, sens)


@torch.inference_mode()
def measure_fast_many(probs_fn: Callable[[Tensor], Tensor], xs: Tensor, baselines: Tensor,
                      importances: list[Tensor], steps: int = 16, max_rows: int = 256) -> list[FaithfulnessReport]:
    """The fast check (deletion and insertion, against the centre blob) for several faces at once.

    Why: on a group photo the pages check every face's map; one face's curves are 68 model inputs, and
    stacking every face's into shared batches of `max_rows` costs a fraction of one call per face.
    `probs_fn(inputs, face_index)` -> (rows,) probability of each face's explained class, where face_index
    (rows,) says which face each row belongs to."""
    rows, owner, spans = [], [], []
    for i, imp in enumerate(importances):
        masks = torch.cat([ranking_masks(imp.float(), steps), ranking_masks(centre_prior(*imp.shape), steps)])
        x, b = xs[i:i + 1], baselines[i:i + 1]
        block = torch.cat([x * (1 - masks) + b * masks, b * (1 - masks) + x * masks])
        spans.append((sum(len(r) for r in rows), len(masks)))
        rows.append(block)
        owner.append(torch.full((len(block),), i, dtype=torch.long))
    inputs, faces = torch.cat(rows), torch.cat(owner)
    probs = torch.cat([probs_fn(inputs[k:k + max_rows], faces[k:k + max_rows]).float()
                       for k in range(0, len(inputs), max_rows)]).numpy()
    n, fractions, reports = steps + 1, np.linspace(0, 1, steps + 1), []
    for start, half in spans:
        p = probs[start:start + 2 * half]
        reports.append(_report(fractions, p[:n], p[half:half + n], p[n:2 * n], p[half + n:half + 2 * n]))
    return reports


def measure(prob_fn: ProbFn, x: Tensor, baseline: Tensor, importance: Tensor, *, steps: int = 16,
            score_fn: Callable[[Tensor], Tensor] | None = None, attribution: Tensor | None = None,
            explain_fn: ExplainFn | None = None, n_perturb_samples: int = 4) -> FaithfulnessReport:
    """Deletion/insertion always; Captum infidelity when `score_fn` and `attribution` are given, and
    sensitivity when `explain_fn` is given (it re-runs the explanation `n_perturb_samples` times)."""
    (fractions, deletion, insertion), (_, ref_del, ref_ins) = _curves(
        prob_fn, x, baseline, [importance, centre_prior(*importance.shape)], steps)
    infid = rel_infid = sens = None
    if score_fn is not None and attribution is not None:
        infid, rel_infid = captum_infidelity(score_fn, x, baseline, attribution, max(4 * n_perturb_samples, 8))
    if explain_fn is not None:
        sens = captum_sensitivity(explain_fn, x, n_perturb_samples=n_perturb_samples)
    return _report(fractions, deletion, insertion, ref_del, ref_ins, infid, rel_infid, sens)
