"""Explanations for one face: "which parts of this face drove the score for class X (rather than Y)?"

One `explain` call runs a Captum method registered in `fer_core.explain.registry` on an aligned face crop and
returns an `Explanation` with a heatmap at crop resolution, optionally measured for faithfulness.

Thread safety: the classifier object is shared by every browser session and by recognition threads that
never lock. Captum registers hooks on the module it explains, so attributions never run on the shared
model but on a private *twin*: new module objects over the same read-only weight tensors, built once per
model and cached (building one costs more than a Grad-CAM). One module-level lock serialises every
attribution and guards the twins; NoiseTunnel seeds torch's global generator under it, and two
explanations at once would only slow each other down on a small CPU. The shared model is never hooked,
put in train mode, given gradients, or changed in `requires_grad`. (A twin follows in-place weight
updates of its model, not structural edits: give a changed model a new object.) Methods that only run
forward passes (occlusion) need no twin: they use the model's fast inference copy, which recognition already
shares read-only across threads.
"""
from __future__ import annotations

import copy
import threading
import time
import weakref
from dataclasses import dataclass, replace
from itertools import chain
from typing import Any

import cv2
import numpy as np
import torch
from torch import Tensor, nn

from fer_core.explain import faithfulness as faith
from fer_core.explain.methods import ATTRIBUTIONS, ClassScore, ContrastLogits, blurred_baseline
from fer_core.explain.registry import MethodInfo, method_info
from fer_core.model.checkpoint import LoadedModel
from fer_core.model.preprocess import crops_to_input

_ATTRIBUTION_LOCK = threading.RLock()  # held around every attribution; guards the cached twins too
_TWINS: "weakref.WeakKeyDictionary[nn.Module, nn.Module]" = weakref.WeakKeyDictionary()


@dataclass
class Explanation:
    method: str
    target: str
    heatmap: np.ndarray  # crop-size float32: [0, 1], or [-1, 1] for a contrast (positive = for target)
    attribution: np.ndarray  # raw signed map at model input size, as the method returned it
    probs: dict[str, float]  # model probabilities for this crop (single pass, no flip averaging)
    ms: float  # time for the attribution itself, in milliseconds
    contrast: str | None = None
    layer: str | None = None  # the Grad-CAM layer, for layer-based methods
    faithfulness: faith.FaithfulnessReport | None = None

    @property
    def deletion_auc(self) -> float | None:
        return self.faithfulness.deletion_auc if self.faithfulness else None

    @property
    def insertion_auc(self) -> float | None:
        return self.faithfulness.insertion_auc if self.faithfulness else None

    @property
    def trust_hint(self) -> str | None:
        return self.faithfulness.hint if self.faithfulness else None

    @property
    def signed(self) -> bool:
        return self.contrast is not None

    @property
    def info(self) -> MethodInfo:
        """The method's registry entry (title, flags)."""
        return method_info(self.method)

    def to_json(self) -> dict:
        d = {"method": self.method, "target": self.target, "contrast": self.contrast, "layer": self.layer,
             "ms": round(self.ms, 1), "probs": {k: round(v, 4) for k, v in self.probs.items()}}
        if self.faithfulness:
            d["faithfulness"] = self.faithfulness.to_json()
        return d


def private_twin(model: nn.Module) -> nn.Module:
    """New module objects over the same parameter and buffer tensors: hooks and flags set on the twin
    never reach `model`, and no weights are copied. ReLUs are made out-of-place for guided backprop."""
    shared = {id(t): t for t in chain(model.parameters(), model.buffers())}
    twin = copy.deepcopy(model, memo=shared)
    for m in twin.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = False
    return twin.eval()


def _cached_twin(model: nn.Module) -> nn.Module:
    """The private twin of `model`, built on first use. Call with the attribution lock held."""
    twin = _TWINS.get(model)
    if twin is None:
        twin = _TWINS[model] = private_twin(model)
    return twin


def class_index(loaded: LoadedModel, name: str) -> int:
    labels = loaded.spec.labels
    if name not in labels:
        raise ValueError(f"unknown class {name!r}; the model knows {', '.join(labels)}")
    return labels.index(name)


def display_map(attribution: Tensor, method: str, signed: bool) -> Tensor:
    """What is shown and ranked: the signed map for a contrast, else the positive part of evidence maps
    or the magnitude of sensitivity maps."""
    if signed:
        return attribution
    return attribution.clamp_min(0) if method_info(method).evidence else attribution.abs()


def normalise(m: np.ndarray, signed: bool) -> np.ndarray:
    """Scale to [0, 1] (or [-1, 1] when signed) by the 99.5th percentile of |m|, so one hot pixel does not
    wash out the rest."""
    scale = float(np.percentile(np.abs(m), 99.5)) or float(np.abs(m).max()) or 1.0
    return np.clip(m / scale, -1.0 if signed else 0.0, 1.0).astype(np.float32)


def attribute(loaded: LoadedModel, x: Tensor, method: str, target: int, contrast: int | None = None,
              baseline: Tensor | None = None, **opts: Any) -> Tensor:
    """Signed (N, H, W) attribution maps for a batch of model inputs, under the lock, on a private twin."""
    info = method_info(method)  # a clear ValueError for an unknown name
    if info.layer_based:
        opts.setdefault("layer", loaded.spec.cam_layer or "layer4")
    baseline = blurred_baseline(x) if baseline is None else baseline
    if info.forward_only:  # no hooks or gradients: the shared, read-only fast copy will do
        with _ATTRIBUTION_LOCK, torch.inference_mode():
            score = ClassScore(loaded.fast, target, contrast)
            attr = ATTRIBUTIONS[method](score, x, baseline, signed=contrast is not None, **opts)
        return attr.clone()
    with _ATTRIBUTION_LOCK, torch.inference_mode(False), torch.enable_grad():
        score = ClassScore(_cached_twin(loaded.model), target, contrast)
        attr = ATTRIBUTIONS[method](score, x.detach().clone(), baseline.detach().clone(),
                                  signed=contrast is not None, **opts)
    return attr.detach()


def _prob_fn(loaded: LoadedModel, target: int, contrast: int | None):
    """Probability of the target class (for a contrast: of target among {target, contrast})."""

    @torch.inference_mode()
    def prob(x: Tensor) -> Tensor:
        logits = loaded.fast(x).float()  # forward passes only: the shared fast copy, ~1.7x the reference's speed
        if contrast is not None:
            logits = logits[:, [target, contrast]]
            return torch.softmax(logits, dim=1)[:, 0]
        return torch.softmax(logits, dim=1)[:, target]

    return prob


def explain_input(loaded: LoadedModel, x: Tensor, method: str = "gradcam", target: str | None = None, *,
                  contrast: str | None = None, faithfulness: bool | str = False,
                  out_size: int | None = None, **opts: Any) -> Explanation:
    """`explain` for one normalised model input x: (1, C, H, W). `faithfulness`: False; "fast" for deletion
    and insertion only (one batched forward); True to add Captum infidelity and sensitivity (the latter
    re-runs the method a few times)."""
    with torch.inference_mode():
        p = torch.softmax(loaded.model(x).float(), dim=1)[0].numpy()
    labels = loaded.spec.labels
    probs = {c: float(v) for c, v in zip(labels, p)}
    t = class_index(loaded, target) if target is not None else int(p.argmax())
    c = class_index(loaded, contrast) if contrast is not None else None
    if c == t:
        raise ValueError("contrast class must differ from the target class")
    if c is not None and not method_info(method).class_specific:
        raise ValueError(f"{method_info(method).title} maps are the same for every class, so they cannot contrast "
                         "two classes; use a class-specific method such as gradcam")
    baseline = blurred_baseline(x)
    start = time.perf_counter()
    attr = attribute(loaded, x, method, t, c, baseline, **opts)
    ms = (time.perf_counter() - start) * 1000
    shown = display_map(attr[0], method, signed=c is not None)
    report = _measure(loaded, x, baseline, shown, method, t, c, faithfulness, opts) if faithfulness else None
    heat = shown.float().numpy()
    if out_size and out_size != heat.shape[0]:
        heat = cv2.resize(heat, (out_size, out_size), interpolation=cv2.INTER_LINEAR)
    layer = opts.get("layer", loaded.spec.cam_layer or "layer4") if method_info(method).layer_based else None
    return Explanation(method, labels[t], normalise(heat, c is not None), attr[0].float().numpy(), probs, ms,
                       labels[c] if c is not None else None, layer, report)


def _measure(loaded: LoadedModel, x: Tensor, baseline: Tensor, shown: Tensor, method: str, target: int,
             contrast: int | None, level: bool | str, opts: dict[str, Any]) -> faith.FaithfulnessReport:
    """Deletion/insertion on the shown map; with level True also Captum infidelity and sensitivity."""
    prob_fn = _prob_fn(loaded, target, contrast)
    if level == "fast":
        return faith.measure(prob_fn, x, baseline, shown)
    signed = contrast is not None

    def per_channel(maps: Tensor) -> Tensor:  # (N, H, W) -> (N, C, H, W), as Captum's metrics want
        return maps[:, None].expand(-1, x.shape[1], -1, -1)

    def explain_fn(xs: Tensor | tuple[Tensor, ...]) -> Tensor:
        maps = attribute(loaded, _untuple(xs), method, target, contrast, **opts)
        return per_channel(display_map(maps, method, signed))

    return faith.measure(prob_fn, x, baseline, shown, score_fn=_score_fn(loaded, target, contrast),
                         attribution=per_channel(shown[None]), explain_fn=explain_fn)


def _untuple(x: Tensor | tuple[Tensor, ...]) -> Tensor:
    return x[0] if isinstance(x, tuple) else x


def _score_fn(loaded: LoadedModel, target: int, contrast: int | None):
    score = ClassScore(loaded.model, target, contrast)

    @torch.inference_mode()
    def fn(x: Tensor) -> Tensor:
        return score(x)[:, 0]

    return fn


def explain(loaded: LoadedModel, crop: np.ndarray, method: str = "gradcam", target: str | None = None, *,
            contrast: str | None = None, faithfulness: bool | str = False, **opts: Any) -> Explanation:
    """Explain the model's score for `target` (default: its top class) on one aligned RGB crop
    (`FaceResult.crop`, 112x112). With `contrast`, the map is signed evidence for target *rather than*
    contrast. `opts` go to the method (layer, n_steps, window, stride, nt_samples, noise, seed)."""
    x = crops_to_input(crop[None], loaded.spec)
    return explain_input(loaded, x, method, target, contrast=contrast, faithfulness=faithfulness,
                         out_size=crop.shape[0], **opts)


def check_faithfulness(loaded: LoadedModel, crop: np.ndarray, expl: Explanation) -> Explanation:
    """`expl` with the fast trust check (deletion and insertion) measured on the map it already holds: the
    pages draw a heatmap first and check it afterwards, without computing the attribution twice. `crop` is
    the one the explanation was computed on."""
    x = crops_to_input(crop[None], loaded.spec)
    shown = display_map(torch.from_numpy(expl.attribution), expl.method, expl.signed)
    if tuple(shown.shape) != tuple(x.shape[-2:]):
        raise ValueError("this explanation was not computed on a crop for this model")
    target = class_index(loaded, expl.target)
    contrast = class_index(loaded, expl.contrast) if expl.contrast is not None else None
    report = _measure(loaded, x, blurred_baseline(x), shown, expl.method, target, contrast, "fast", {})
    return replace(expl, faithfulness=report)




def explain_crops(loaded: LoadedModel, crops: np.ndarray, method: str = "occlusion",
                  targets: list[str | None] | None = None) -> list[Explanation]:
    """`explain` for every face of a photo (N aligned RGB crops), each on its own top class unless `targets`
    names one. Occlusion (forward passes only) scores every face's occluded copies in shared batches, which
    on a 6-face group photo costs a fraction of six separate calls; other methods run face by face."""
    if not len(crops):
        return []
    targets = list(targets) if targets is not None else [None] * len(crops)
    if not method_info(method).forward_only or len(crops) == 1:
        return [explain(loaded, crop, method, target) for crop, target in zip(crops, targets)]
    x = crops_to_input(crops, loaded.spec)
    with torch.inference_mode():
        p = torch.softmax(loaded.fast(x).float(), dim=1).numpy()
    labels = loaded.spec.labels
    t = [class_index(loaded, name) if name is not None else int(row.argmax()) for name, row in zip(targets, p)]
    baseline = blurred_baseline(x)
    start = time.perf_counter()
    with _ATTRIBUTION_LOCK, torch.inference_mode():
        attr = ATTRIBUTIONS[method](ContrastLogits(loaded.fast), x, baseline, target=t).clone()
    ms = (time.perf_counter() - start) * 1000 / len(crops)
    out = []
    for i, crop in enumerate(crops):
        shown = display_map(attr[i], method, signed=False).float().numpy()
        if shown.shape[0] != crop.shape[0]:
            shown = cv2.resize(shown, (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_LINEAR)
        probs = {c: float(v) for c, v in zip(labels, p[i])}
        out.append(Explanation(method, labels[t[i]], normalise(shown, False), attr[i].float().numpy(), probs, ms))
    return out


def check_faithfulness_many(loaded: LoadedModel, crops: np.ndarray,
                            explanations: list[Explanation]) -> list[Explanation]:
    """`check_faithfulness` for several faces, their deletion and insertion inputs in shared batches."""
    if not len(crops):
        return []
    x = crops_to_input(crops, loaded.spec)
    shown = [display_map(torch.from_numpy(e.attribution), e.method, e.signed) for e in explanations]
    if any(tuple(m.shape) != tuple(x.shape[-2:]) for m in shown):
        raise ValueError("these explanations were not computed on crops for this model")
    targets = torch.tensor([class_index(loaded, e.target) for e in explanations])
    contrasts = torch.tensor([class_index(loaded, e.contrast) if e.contrast is not None else -1
                              for e in explanations])

    @torch.inference_mode()
    def probs(rows: Tensor, face: Tensor) -> Tensor:
        logits = loaded.fast(rows).float()  # as in _prob_fn: the fast copy
        target, contrast = targets[face], contrasts[face]
        pair = torch.stack([logits.gather(1, target[:, None])[:, 0],
                            logits.gather(1, contrast.clamp_min(0)[:, None])[:, 0]], dim=1)
        in_pair = torch.softmax(pair, dim=1)[:, 0]  # target among {target, contrast}
        alone = torch.softmax(logits, dim=1).gather(1, target[:, None])[:, 0]
        return torch.where(contrast >= 0, in_pair, alone)

    reports = faith.measure_fast_many(probs, x, blurred_baseline(x), shown)
    return [replace(e, faithfulness=r) for e, r in zip(explanations, reports)]
