"""The Face Mesh's points as a training-only target for our CNN (fer_core/training/landmark_aux.py)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from fer_core.detection import face_mesh
from fer_core.model.preprocess import crops_to_input
from fer_core.model.spec import SPECS
from fer_core.training.data import load_dataset
from fer_core.training.landmark_aux import MESH_INPUT, CnnLandmarkTarget, mesh_input, resnet_logits_and_stage
from tests.conftest import require_shared

if not face_mesh.available():
    pytest.skip("the converted Face Mesh weights are missing (fer-lens convert-mediapipe)", allow_module_level=True)


@pytest.fixture(scope="module")
def faces() -> torch.Tensor:
    """16 FER2013Test faces, as the resnet10t classifier is fed them."""
    test = load_dataset(require_shared("data/ferplus"), "ferplus", "test").subset(np.arange(16))
    return crops_to_input(np.repeat(test.images[..., None], 3, axis=3), SPECS["resnet10t"])


def test_one_pass_gives_the_networks_own_logits_and_its_stage(faces: torch.Tensor) -> None:
    model = SPECS["resnet10t"].create().eval()
    with torch.no_grad():
        logits, stage = resnet_logits_and_stage(model, faces, "layer3")
        torch.testing.assert_close(logits, model(faces))
    assert stage.shape == (16, 256, 4, 4)  # a 64 px face at layer3


def test_the_mesh_sees_the_classifiers_face_and_places_points_on_it(faces: torch.Tensor) -> None:
    spec = SPECS["resnet10t"]
    big = mesh_input(faces, spec)
    assert big.shape == (16, 3, MESH_INPUT, MESH_INPUT) and 0 <= big.min() and big.max() <= 1
    # the grey face comes back as it was before normalisation (the 48 px source, upscaled)
    back = torch.nn.functional.interpolate(big[:, :1], size=faces.shape[-2:], mode="bilinear", antialias=True)
    assert (back - (faces * spec.std[0] + spec.mean[0])).abs().mean() < 0.03
    target = CnnLandmarkTarget(spec.create(), spec)
    points = target.target(faces).reshape(16, 468, 3)[..., :2]
    # FER2013 crops are faces filling the frame: the mesh lands inside it, spread over most of its width
    assert (points > 0).all() and (points < MESH_INPUT).all()
    spread = points[..., 0].amax(dim=1) - points[..., 0].amin(dim=1)
    assert (spread > MESH_INPUT * 0.4).all(), spread


def test_the_head_trains_toward_the_meshs_points_and_leaves_the_saved_network_plain(faces: torch.Tensor) -> None:
    from fer_core.model.mesh_net import landmark_loss

    spec = SPECS["resnet10t"]
    model = spec.create()
    target = CnnLandmarkTarget(model, spec)
    goal = target.target(faces)
    opt = torch.optim.AdamW([*model.parameters(), *target.head.parameters()], lr=1e-3)
    losses = []
    for _ in range(30):
        _, points = target.logits_and_points(model, faces)
        loss = landmark_loss(points, goal)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses
    # the head is not part of the network: its weights save and load as plain resnet10t
    assert set(model.state_dict()) == set(spec.create().state_dict())
