"""An expression classifier on the Face Mesh's backbone: MediaPipe's landmark network (converted to our own
graph, see `fer_core.detection.converted_net`) with a new classification head, fine-tuned end to end.

Why: the Face Mesh was trained on far more faces than FER2013 holds, to place 468 points on them, so its
features already encode facial geometry (brows, lids, mouth corners): a face-pretrained start that FER2013
alone cannot give. Its stride-16 stage sees a 192 px face at 6x6 positions, fine enough for Grad-CAM.

The network keeps the mesh's own landmark head (`landmarks`), unused at inference: training can ask it to
keep predicting the original mesh's points ("learning without forgetting"), so fine-tuning on FER2013's
crops does not wash out what the mesh knows about faces of every kind.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fer_core.detection.converted_net import ConvertedNet, _run_op

MESH_PATH = Path(__file__).resolve().parent.parent / "weights" / "mediapipe" / "face_landmark"
FEATURE_TENSOR = "p_re_lu_15"  # 128 x 6 x 6 for a 192 px face: Grad-CAM's layer
TAIL_TENSOR = "p_re_lu_17"  # 128 x 3 x 3: where the mesh's landmark and face-flag heads branch off
LANDMARK_TENSOR = "conv2d_21"  # (N, 1, 1, 1404): 468 points x (x, y, z) in input pixels


class GraphSegment(nn.Module):
    """The ops of a converted graph between one tensor and another, as a module of its own (so that Grad-CAM
    can hook its output and an optimiser can train its weights)."""

    def __init__(self, net: ConvertedNet, source: str, target: str) -> None:
        super().__init__()
        made_by = {op["output"]: op for op in net._ops}
        needed: list[dict[str, Any]] = []
        stack, seen = [target], set()
        while stack:  # every op the target depends on, back to the source
            name = stack.pop()
            if name in seen or name == source or name not in made_by:
                continue
            seen.add(name)
            op = made_by[name]
            needed.append(op)
            stack.extend(op["inputs"])
        order = {op["output"]: i for i, op in enumerate(net._ops)}
        self.ops = sorted(needed, key=lambda op: order[op["output"]])
        self.source, self.target = source, target
        used = {op["layer"] for op in self.ops if "layer" in op}
        used |= {name for op in self.ops for name in op["inputs"] if name in net.layers}
        self.layers = nn.ModuleDict({name: net.layers[name] for name in sorted(used)})
        self.onnx_forms = False  # set on a copy for ONNX export: the op forms ONNX Runtime runs fast

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        env = {self.source: x.contiguous(memory_format=torch.channels_last)}
        for op in self.ops:
            xs = [env[name] if name in env else self.layers[name].value for name in op["inputs"]]
            env[op["output"]] = _run_op(self, op, xs, self.onnx_forms)  # type: ignore[arg-type]  # uses .layers
        return env[self.target]


class MeshExpressionNet(nn.Module):
    """Face Mesh backbone (to 6x6, then 3x3) -> average-pooled features of both stages -> linear head."""

    def __init__(self, num_classes: int = 8, drop_rate: float = 0.2, mesh_path: Path = MESH_PATH) -> None:
        super().__init__()
        net = ConvertedNet.load(mesh_path)
        self.input_name = net.input_name
        self.features = GraphSegment(net, net.input_name, FEATURE_TENSOR)
        self.tail = GraphSegment(net, FEATURE_TENSOR, TAIL_TENSOR)
        self.landmarks = GraphSegment(net, TAIL_TENSOR, LANDMARK_TENSOR)
        channels = 128 + 128
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(channels, num_classes)
        nn.init.zeros_(self.fc.bias)
        nn.init.normal_(self.fc.weight, std=0.01)
        for p in self.parameters():  # converted tensors arrive frozen; this network is for training
            p.requires_grad_(True)

    def get_classifier(self) -> nn.Linear:
        return self.fc

    def _embed(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mid = self.features(x)
        top = self.tail(mid)
        pooled = torch.cat([mid.mean(dim=(2, 3)), top.mean(dim=(2, 3))], dim=1)
        return pooled, top

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled, _ = self._embed(x)
        return self.fc(self.drop(pooled))

    def forward_with_landmarks(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and the landmark head's (N, 1404) points, for the auxiliary loss in training."""
        pooled, top = self._embed(x)
        points = self.landmarks(top).reshape(x.shape[0], -1)
        return self.fc(self.drop(pooled)), points


class MeshLandmarkTeacher(nn.Module):
    """The original, frozen Face Mesh: the points its unchanged weights give, the auxiliary target."""

    def __init__(self, mesh_path: Path = MESH_PATH) -> None:
        super().__init__()
        net = ConvertedNet.load(mesh_path)
        self.segment = GraphSegment(net, net.input_name, LANDMARK_TENSOR)
        self.eval()

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.segment(x).reshape(x.shape[0], -1)


def landmark_loss(student: torch.Tensor, teacher: torch.Tensor, scale: float = 192.0) -> torch.Tensor:
    """Smooth-L1 distance between two sets of mesh points, in units of the input side."""
    return F.smooth_l1_loss(student / scale, teacher / scale, beta=0.01)
