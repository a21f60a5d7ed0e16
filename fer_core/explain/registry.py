"""The heatmap methods FER Lens offers, in words and flags only: no torch, no Captum.

The sidebar, the model card and the command line read titles and notes from here before any model is
loaded; `fer_core.explain.methods` holds the computations under the same names (`ATTRIBUTIONS`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class MethodInfo:
    """A heatmap method as people and the explanation code see it.

    `evidence` maps are signed evidence for the score (positive = raised it): the display keeps the
    positive part. Otherwise the map is a sensitivity whose magnitude is what matters. A method that is not
    `class_specific` (attention) gives one map whatever class is asked about.
    """

    name: str
    title: str
    note: str  # one line for the sidebar's help: what the map shows, in plain words
    evidence: bool
    tag: str = ""  # a word or two after the title in the picker, e.g. "fastest"
    layer_based: bool = False
    class_specific: bool = True
    # Needs forward passes only (no gradients, no hooks): runs on the model's fast inference copy.
    forward_only: bool = False
    needs_attention: bool = False

    @property
    def label(self) -> str:
        """The picker's text: the title, with its tag in brackets."""
        return f"{self.title} ({self.tag})" if self.tag else self.title


_ALL = (
    MethodInfo("gradcam", "Grad-CAM", "broad areas, quickest, but often no better than a guess at the middle of "
               "the face", evidence=True, tag="fastest", layer_based=True),
    MethodInfo("guided_gradcam", "Guided Grad-CAM", "fine edges inside Grad-CAM's areas", evidence=False,
               layer_based=True),
    MethodInfo("integrated_gradients", "Integrated Gradients", "pixel detail: how each pixel moves the score "
               "on the way from a blurred face to this one", evidence=True),
    MethodInfo("occlusion", "Occlusion", "covers the face patch by patch and watches the score; its maps pass "
               "the trust check most often (see 'About the model')", evidence=True, tag="recommended",
               forward_only=True),
    MethodInfo("smoothgrad", "SmoothGrad", "pixel detail, averaged over slightly noisy copies of the face",
               evidence=False),
    MethodInfo("attention", "Attention", "where the model itself chose to look (models with attention blocks "
               "only)", evidence=False, tag="the model's own", class_specific=False, needs_attention=True),
)
METHODS: dict[str, MethodInfo] = {m.name: m for m in _ALL}

# Occlusion, not Grad-CAM: on the built-in model (FER2013Test faces, `explain-bench`) its maps pass the
# trust check on about half the faces, Grad-CAM's on about one in ten, no better than a plain blob in the
# middle of the face. It also explains itself to a non-expert ("each patch was covered in turn"), and at
# ~0.07 s per face (49 windows, `occlusion_geometry`) it is quick enough for photos, video moments and frozen
# webcam frames.
DEFAULT_METHOD = "occlusion"


def method_info(name: str) -> MethodInfo:
    """The registered method called `name`, or a ValueError that lists the choices."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown heatmap method {name!r}; choose one of {sorted(METHODS)}") from None


def available_methods_for_card(card: dict) -> list[str]:
    """`available_methods` from a model card alone (training records a model's attention gates there), so a
    page can ask before torch is loaded."""
    return [name for name, m in METHODS.items() if card.get("attention") or not m.needs_attention]


def available_methods(model: "nn.Module") -> list[str]:
    """The methods that work on `model`: attention only where the model has attention blocks. Here rather
    than in `methods`, so that pages can ask before Captum is imported."""
    from fer_core.model.spec import attention_layers

    has_attention = bool(attention_layers(model))
    return [name for name, m in METHODS.items() if has_attention or not m.needs_attention]
