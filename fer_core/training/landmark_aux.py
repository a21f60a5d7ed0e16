"""The Face Mesh's 468 points as an auxiliary target for a CNN of our own (issue #18), for training only.

Why: the Face Mesh was trained on far more faces than FER2013 holds, so its points encode facial geometry
(brows, lids, mouth corners) across faces of every kind. A small head on the CNN's middle stage learns to
predict the frozen mesh's points on each augmented training face, beside the expression loss, so the shared
features must carry that geometry; the CNN keeps its own appearance features (which the Face Mesh's own
backbone, fine-tuned, did not match: MODELS.md). The head is dropped after training: the saved model is the
plain network, with the same cost per face and the same loader.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fer_core.model.spec import ModelSpec

MESH_INPUT = 192  # the Face Mesh's input side: its points are in these pixels
POINTS = 468 * 3


class LandmarkHead(nn.Module):
    """A feature map (N, C, H, W) -> (N, 1404) mesh points: 1x1 conv to 64 channels, then one linear layer over
    the positions (points are places, so the head keeps where each feature is)."""

    def __init__(self, channels: int, height: int, width: int, hidden: int = 64) -> None:
        super().__init__()
        self.reduce = nn.Sequential(nn.Conv2d(channels, hidden, 1, bias=False), nn.BatchNorm2d(hidden),
                                    nn.ReLU(inplace=True))
        self.points = nn.Linear(hidden * height * width, POINTS)
        nn.init.zeros_(self.points.weight)
        nn.init.zeros_(self.points.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Points in the mesh's input pixels; learned as offsets from the middle in units of its side, so that
        one learning rate suits the head and the network."""
        return MESH_INPUT * (0.5 + self.points(self.reduce(features).flatten(1)))


def resnet_logits_and_stage(model: nn.Module, x: torch.Tensor, stage: str) -> tuple[torch.Tensor, torch.Tensor]:
    """A timm ResNet's logits and one stage's output, in one forward pass (its own modules called in order,
    no hooks)."""
    if not all(hasattr(model, n) for n in ("conv1", "bn1", "act1", "maxpool", "layer4", "forward_head")):
        raise ValueError("the landmark target on a CNN needs a timm ResNet (resnet10t and its variants)")
    y = model.maxpool(model.act1(model.bn1(model.conv1(x))))
    kept = None
    for name in ("layer1", "layer2", "layer3", "layer4"):
        y = getattr(model, name)(y)
        if name == stage:
            kept = y
    if kept is None:
        raise ValueError(f"no stage {stage!r}: choose one of layer1-layer4")
    return model.forward_head(y), kept


def mesh_input(x: torch.Tensor, spec: ModelSpec) -> torch.Tensor:
    """The classifier's normalised grey input, as the Face Mesh takes it: [0, 1] RGB at 192 px."""
    mean = torch.tensor(spec.mean, dtype=x.dtype).view(1, -1, 1, 1)
    std = torch.tensor(spec.std, dtype=x.dtype).view(1, -1, 1, 1)
    grey = (x * std + mean).clamp(0, 1)
    big = F.interpolate(grey, size=(MESH_INPUT, MESH_INPUT), mode="bilinear", align_corners=False)
    return big.expand(-1, 3, -1, -1) if big.shape[1] == 1 else big


class CnnLandmarkTarget(nn.Module):
    """For `fer-lens train --landmark-weight` on a timm ResNet: the training-only head and the frozen mesh."""

    def __init__(self, model: nn.Module, spec: ModelSpec, stage: str = "layer3") -> None:
        super().__init__()
        from fer_core.model.mesh_net import MeshLandmarkTeacher

        self.spec, self.stage = spec, stage
        with torch.no_grad():
            was_training = model.training
            model.eval()
            _, features = resnet_logits_and_stage(model, torch.zeros(1, spec.in_chans, spec.input_size,
                                                                     spec.input_size), stage)
            model.train(was_training)
        self.head = LandmarkHead(*features.shape[1:])
        self.teacher = MeshLandmarkTeacher()

    def logits_and_points(self, model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, features = resnet_logits_and_stage(model, x, self.stage)
        return logits, self.head(features)

    def target(self, x: torch.Tensor) -> torch.Tensor:
        """The frozen mesh's points on the same faces, in 192 px input pixels."""
        return self.teacher(mesh_input(x.float(), self.spec))
