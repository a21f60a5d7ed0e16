"""Attribution methods behind one signature, from Captum wherever Captum has the method, plus the model's
own attention maps, under the names of the registry (`fer_core.explain.registry`).

Every method explains one scalar per face: the target logit, or "target minus contrast" for a
"why X and not Y" view (`ClassScore`). It takes a batch (N, C, H, W) of normalised model inputs and the
blurred baseline of the same faces and returns signed (N, H, W) maps at the model input size.

These functions register Captum hooks on the module they are given, so callers must hand them a private
copy of the model (see `fer_core.explain`), never the one that other threads classify with.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import torch
import torch.nn.functional as F
from captum.attr import (
    GuidedGradCam,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    NoiseTunnel,
    Occlusion,
    Saliency,
)
from torch import Tensor, nn

from fer_core.model.spec import attention_layers

# Captum announces every guided-backprop call; the hooks it means live on our private twin only.
warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU activations", category=UserWarning)

BASELINE_BLUR = 1 / 8  # Gaussian sigma of the baseline, as a fraction of the input side: expression gone,
#                        face layout and brightness kept (Sturmfels et al. 2020, "blurred" baseline)


class ContrastLogits(nn.Module):
    """Every class's logit, minus one contrast class's logit when given: per-row targets pick the columns."""

    def __init__(self, model: nn.Module, contrast: int | None = None) -> None:
        super().__init__()
        self.model, self.contrast = model, contrast

    def forward(self, x: Tensor) -> Tensor:
        logits = self.model(x)
        return logits if self.contrast is None else logits - logits[:, self.contrast:self.contrast + 1]


class ClassScore(nn.Module):
    """One output column: the target logit, or target logit minus contrast logit ("why X and not Y")."""

    def __init__(self, model: nn.Module, target: int, contrast: int | None = None) -> None:
        super().__init__()
        self.model, self.target, self.contrast = model, target, contrast

    def forward(self, x: Tensor) -> Tensor:
        logits = self.model(x)
        score = logits[:, self.target]
        if self.contrast is not None:
            score = score - logits[:, self.contrast]
        return score[:, None]


def blurred_baseline(x: Tensor, sigma_fraction: float = BASELINE_BLUR) -> Tensor:
    """The same faces, heavily Gaussian-blurred (separable, reflect padding): "no expression detail"."""
    sigma = max(sigma_fraction * x.shape[-1], 0.5)
    radius = min(int(math.ceil(3 * sigma)), x.shape[-1] - 1, x.shape[-2] - 1)
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = kernel / kernel.sum()
    c = x.shape[1]
    out = F.pad(x, (radius, radius, 0, 0), mode="reflect")
    out = F.conv2d(out, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    out = F.pad(out, (0, 0, radius, radius), mode="reflect")
    return F.conv2d(out, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def _per_pixel(attr: Tensor, magnitude: bool) -> Tensor:
    """(N, C, H, W) -> (N, H, W): channels summed (signed) or their absolute values summed."""
    return (attr.abs() if magnitude else attr).sum(dim=1)


def gradcam(score: ClassScore, x: Tensor, baseline: Tensor, *, signed: bool = False, layer: str = "layer4",
            **_: Any) -> Tensor:
    """Grad-CAM at `layer`, bilinearly upsampled; ReLU'd unless a signed (contrast) map is wanted."""
    cam = LayerGradCam(score, score.model.get_submodule(layer))
    attr = cam.attribute(x, target=0, relu_attributions=not signed)
    return LayerAttribution.interpolate(attr, tuple(x.shape[-2:]), "bilinear")[:, 0]


def guided_gradcam(score: ClassScore, x: Tensor, baseline: Tensor, *, signed: bool = False,
                   layer: str = "layer4", **_: Any) -> Tensor:
    """Guided backprop times Grad-CAM: fine edges, gated by the class-specific coarse map."""
    guided = GuidedGradCam(score, score.model.get_submodule(layer))
    attr = guided.attribute(x.requires_grad_(), target=0, interpolate_mode="bilinear")
    return _per_pixel(attr, magnitude=not signed)


def integrated_gradients(score: ClassScore, x: Tensor, baseline: Tensor, *, n_steps: int = 32,
                         internal_batch_size: int | None = None, **_: Any) -> Tensor:
    """IG from the blurred face to the face; sums to score(face) - score(blurred face)."""
    ig = IntegratedGradients(score)
    attr = ig.attribute(x, baselines=baseline, target=0, n_steps=n_steps,
                        internal_batch_size=internal_batch_size or n_steps * len(x))
    return _per_pixel(attr, magnitude=False)


def occlusion_geometry(size: int) -> tuple[int, int]:
    """Window and stride for a `size`-pixel input that tile it exactly: at 64 px a 16 px window (an eye with
    its brow, half the mouth) moved by 8 px, 7 x 7 = 49 positions, each pixel covered by up to 4 windows.
    Chosen by measurement (fer-resnet10t-v2, 200 FER2013Test faces, the fast trust check, 2026-12-01):
    16/8 maps were as faithful as the earlier 10/6 (100 positions) and 15/7 (64): passed the check on 52%,
    52% and 53% of faces, mean relative insertion-deletion gap 0.514, 0.510 and 0.516. It halves the model
    passes, which a group photo's heatmaps wait for (6 faces: 0.73 -> 0.36 s of scoring on 2 cores).
    But `fer-lens explain-bench --faces 200` (the first 200 test faces, its own protocol) passes 46% of 16/8
    maps against 54% of 10/6 ones: a real cost by that measure, still to be weighed (docs/models.md)."""
    stride = max(1, size // 8)
    window = 2 * stride
    while (size - window) % stride:
        window += 1
    return window, stride


def occlusion(score: nn.Module, x: Tensor, baseline: Tensor, *, window: int | None = None,
              stride: int | None = None, target: int | list[int] = 0, max_rows: int = 256, **_: Any) -> Tensor:
    """Score drop when a square is replaced by the blurred face, averaged over the windows covering a pixel.
    Several faces at once share batches of up to `max_rows` occluded copies; `target` then names one score
    column per face (Captum repeats it for every occluded copy)."""
    default_window, default_stride = occlusion_geometry(x.shape[-1])
    window, stride = window or default_window, stride or default_stride
    c = x.shape[1]
    n_windows = ((x.shape[-2] - window) // stride + 1) * ((x.shape[-1] - window) // stride + 1)
    per_eval = max(1, min(n_windows, max_rows // len(x)))
    attr = Occlusion(score).attribute(x, sliding_window_shapes=(c, window, window), strides=(c, stride, stride),
                                      baselines=baseline, target=target, perturbations_per_eval=per_eval)
    return _per_pixel(attr, magnitude=False)


def smoothgrad(score: ClassScore, x: Tensor, baseline: Tensor, *, signed: bool = False, nt_samples: int = 16,
               noise: float = 0.15, seed: int = 0, **_: Any) -> Tensor:
    """Input gradients averaged over noisy copies (noise std = `noise` x the input's value range).

    NoiseTunnel draws from torch's global generator, so it is seeded inside `fork_rng` (state restored
    afterwards): the same face gives the same map. Callers hold the explanation lock around this.
    """
    stdev = float(noise * (x.max() - x.min()).clamp_min(1e-6))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        attr = NoiseTunnel(Saliency(score)).attribute(x, nt_type="smoothgrad", nt_samples=nt_samples,
                                                      nt_samples_batch_size=nt_samples, stdevs=stdev,
                                                      target=0, abs=not signed)
    return _per_pixel(attr, magnitude=False)


MIN_ATTENTION_SIDE = 4  # gates coarser than 4x4 (layer4 on a 64 px face: 2x2) say little about *where*


def attention(score: ClassScore, x: Tensor, baseline: Tensor, **_: Any) -> Tensor:
    """The model's own spatial attention, read rather than inferred: every CBAM block multiplies its
    features by a sigmoid gate in [0, 1] per position. The gates of one forward pass are upsampled to the
    input and combined by their geometric mean (the factor a feature at that spot is scaled by, per block,
    on average), then shifted so the least-attended spot is 0. It is the same for every class: attention
    says where the model looks, Grad-CAM and the others say what it saw there."""
    model = score.model
    names = attention_layers(model)
    if not names:
        raise ValueError("this model has no spatial-attention blocks; attention maps need a model with "
                         "attention, such as the built-in fer-resnet10t-cbam-v1")
    gates: list[Tensor] = []
    handles = [model.get_submodule(n).register_forward_hook(lambda _m, _i, out: gates.append(out.detach()))
               for n in names]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    used = [g for g in gates if min(g.shape[-2:]) >= MIN_ATTENTION_SIDE] or gates
    logs = [F.interpolate(g.float().clamp_min(1e-6).log(), size=tuple(x.shape[-2:]), mode="bilinear",
                          align_corners=False) for g in used]
    gate = torch.stack(logs).mean(dim=0)[:, 0].exp()
    return gate - gate.amin(dim=(-2, -1), keepdim=True)


MethodFn = Callable[..., Tensor]


# The computations behind the registry's names (`fer_core.explain.registry.METHODS`).
ATTRIBUTIONS: dict[str, MethodFn] = {
    "gradcam": gradcam,
    "guided_gradcam": guided_gradcam,
    "integrated_gradients": integrated_gradients,
    "occlusion": occlusion,
    "smoothgrad": smoothgrad,
    "attention": attention,
}
