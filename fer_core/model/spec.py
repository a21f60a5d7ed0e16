"""Declarative model specs over `timm.create_model`: every preprocessing fact a classifier was trained with
(input size, channels, mean/std, the resolution faces are reduced to first, label order). A spec travels
inside the checkpoint's card, so inference can never disagree with training.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from fer_core.labels import CLASSES

if TYPE_CHECKING:  # torch only where a network is built: recognition reads specs without it
    import torch


@dataclass(frozen=True)
class ModelSpec:
    """How to build a classifier and feed it: the single source of truth for one architecture."""

    timm_name: str
    input_size: int = 64
    in_chans: int = 1
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.25,)
    # Faces are first reduced to this size (FER2013's native 48 px), then resized to input_size, so that
    # photo crops carry the same level of detail as the training data.
    source_size: int = 48
    labels: tuple[str, ...] = CLASSES
    cam_layer: str = ""  # dotted module path Grad-CAM should target
    timm_kwargs: dict[str, Any] = field(default_factory=dict)
    # False drops a ResNet's stem max-pool (timm has no option for it): every later feature map is twice as
    # wide, which suits 48 px faces that a stride-32 network would shrink to 2x2.
    stem_pool: bool = True

    def create(self) -> torch.nn.Module:
        """A freshly initialised network, built as training builds it (timm, or one of our own)."""
        import timm  # here, not at the top: timm imports torchvision, which the app's cold start avoids
        import torch

        if self.timm_name in OWN_ARCHITECTURES:
            return OWN_ARCHITECTURES[self.timm_name](num_classes=len(self.labels), **self.timm_kwargs)
        model = timm.create_model(self.timm_name, pretrained=False, num_classes=len(self.labels),
                                  in_chans=self.in_chans, **self.timm_kwargs)
        if not self.stem_pool:
            if not isinstance(getattr(model, "maxpool", None), torch.nn.MaxPool2d):
                raise ValueError(f"{self.timm_name} has no stem max-pool to drop")
            model.maxpool = torch.nn.Identity()
        return model

    def create_for_inference(self) -> torch.nn.Module:
        """A network to load trained weights into: timm's plain resnet10t as our torch-only twin (same
        module names and logits, no torchvision import: `fer_core/model/tiered_resnet.py`), else `create()`."""
        if self.timm_name == "resnet10t" and not self.timm_kwargs:
            from fer_core.model.tiered_resnet import TieredResNet10

            return TieredResNet10(len(self.labels), self.in_chans, self.stem_pool)
        return self.create()

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["mean"], d["std"], d["labels"] = list(self.mean), list(self.std), list(self.labels)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "ModelSpec":
        d = dict(d)
        for k in ("mean", "std", "labels"):
            d[k] = tuple(d[k])
        return cls(**d)


def _mesh_expression_net(**kwargs: Any) -> torch.nn.Module:
    from fer_core.model.mesh_net import MeshExpressionNet

    return MeshExpressionNet(**kwargs)


# Architectures of our own, built from converted face networks rather than by timm (`timm_name` names them).
OWN_ARCHITECTURES = {"face_mesh_fer": _mesh_expression_net}


# FER2013 grey statistics (measured on FER2013Train: mean 0.508, std 0.255).
_FER_NORM = dict(mean=(0.508,), std=(0.255,))


SPECS: dict[str, ModelSpec] = {
    "convnext_atto": ModelSpec("convnext_atto", 64, cam_layer="stages.3", **_FER_NORM),
    "resnet18": ModelSpec("resnet18", 64, cam_layer="layer4", **_FER_NORM),
    # Grad-CAM on layer3 (4x4 for a 64 px face) rather than layer4 (2x2): on fer-resnet10t-v1 it is more
    # faithful (32 FER2013Test faces: insertion AUC 0.664 vs 0.644, deletion-insertion gap 0.18 vs 0.14)
    # and its maps land on facial regions instead of the crop corners.
    "resnet10t": ModelSpec("resnet10t", 64, cam_layer="layer3", **_FER_NORM),
    # The same network fed FER's native 48 px (no upscaling): 57 M multiply-adds per face instead of 89 M,
    # for the real-time engine on CPUs without VNNI. Grad-CAM on layer2 (6x6): layer3 would be only 3x3.
    "resnet10t_48": ModelSpec("resnet10t", 48, cam_layer="layer2", **_FER_NORM),
    # A stem suited to small faces: FER's native 48 px, no stem max-pool, so the four stages see 24, 12, 6
    # and 3 px maps (v2: 16, 8, 4, 2) for 156 M multiply-adds per face (v2: 89 M). Grad-CAM on layer3: 6x6.
    "resnet10t_s48": ModelSpec("resnet10t", 48, cam_layer="layer3", stem_pool=False, **_FER_NORM),
    # resnet10t with CBAM blocks: each block's spatial-attention gate is a real attention map the model
    # multiplies its features by (layer1: 16x16, layer2: 8x8, layer3: 4x4 for a 64 px face).
    "resnet10t_cbam": ModelSpec("resnet10t", 64, cam_layer="layer3",
                                timm_kwargs={"block_args": {"attn_layer": "cbam"}}, **_FER_NORM),
    # The Face Mesh's backbone (MediaPipe, face-pretrained; fer_core/model/mesh_net.py) with a new head: FER's
    # 48 px faces upscaled to the mesh's 192 px, grey replicated to its 3 channels, its [0, 1] input range.
    # Grad-CAM on `features`, the stride-16 stage: 6x6 positions.
    "face_mesh_fer": ModelSpec("face_mesh_fer", 192, in_chans=3, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0),
                               cam_layer="features"),
    "efficientvit_b0": ModelSpec("efficientvit_b0", 64, cam_layer="stages.3", **_FER_NORM),
}


ATTENTION_GATE_SUFFIX = "se.spatial.gate"  # timm CBAM blocks: the sigmoid that multiplies the block's features


def attention_layers(model: torch.nn.Module) -> list[str]:
    """Names of the model's spatial-attention gates (empty for a model without attention blocks)."""
    return [name for name, _ in model.named_modules() if name.endswith(ATTENTION_GATE_SUFFIX)]


def attention_card(model: torch.nn.Module) -> dict[str, Any] | None:
    """The model card's statement about attention: which gates exist and how the app shows them."""
    layers = attention_layers(model)
    if not layers:
        return None
    return {"kind": "CBAM spatial attention (Woo et al. 2018): each residual stage's first block multiplies "
                    "its features by a learned sigmoid gate per position",
            "layers": layers,
            "shown_as": "the 'attention' heatmap method: the gates of one forward pass (those of at least "
                        "4x4 positions), upsampled and combined by geometric mean; the same for every class"}


