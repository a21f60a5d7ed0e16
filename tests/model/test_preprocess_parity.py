"""Recognition prepares crops in numpy (`crops_to_array`, no torch on the way to a label), training in torch
(`prepare_batch`, `F.interpolate`): both must give the classifier the same input, on real face crops and at
the sizes that occur (112 px crops -> 48 px -> 64 px, RGB crops -> 192 px)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fer_core.model.preprocess import crops_to_array, prepare_batch, resize_batch, to_grey
from fer_core.model.spec import SPECS
from tests.conftest import require_shared

INPUT_TOLERANCE = 2e-5  # normalised units (pixel / 255 / std): far below one grey level (1 / 255 / 0.255 = 0.015)


@pytest.fixture(scope="module")
def crops() -> np.ndarray:
    from fer_core.imageio import load_image
    from fer_core.recognizer import Recognizer

    found = Recognizer().analyze_rgb(load_image(require_shared("media", "photos", "faceapi_bbt1.jpg")))
    assert len(found) >= 2
    return np.stack([f.crop for f in found])


@pytest.mark.parametrize("arch", ["resnet10t", "resnet10t_s48"])
def test_numpy_and_torch_inputs_agree_on_real_crops(crops: np.ndarray, arch: str) -> None:
    spec = SPECS[arch]
    expected = prepare_batch(to_grey(crops), spec).numpy()
    got = crops_to_array(crops, spec)
    assert got.shape == expected.shape and got.dtype == np.float32
    assert np.abs(got - expected).max() < INPUT_TOLERANCE


def test_rgb_inputs_agree(crops: np.ndarray) -> None:
    spec = SPECS["face_mesh_fer"]
    x = torch.from_numpy(crops).permute(0, 3, 1, 2).float().div(255)
    expected = F.interpolate(x, size=(spec.input_size,) * 2, mode="bilinear", antialias=True, align_corners=False)
    assert np.abs(crops_to_array(crops, spec) - expected.numpy()).max() < INPUT_TOLERANCE


@pytest.mark.parametrize("sizes", [(112, 48), (48, 64), (113, 47), (37, 100), (200, 192)])
@pytest.mark.parametrize("antialias", [True, False])
def test_resize_matches_torch_at_odd_sizes(crops: np.ndarray, sizes: tuple[int, int], antialias: bool) -> None:
    n_in, n_out = sizes
    grey = np.stack([np.asarray(to_grey(crops[:1])[0], np.float32)] * 2)[:, None] / 255
    x = F.interpolate(torch.from_numpy(grey), size=(n_in, n_in), mode="bilinear", align_corners=False).numpy()
    expected = F.interpolate(torch.from_numpy(x), size=(n_out, n_out), mode="bilinear", antialias=antialias,
                             align_corners=False).numpy()
    assert np.abs(resize_batch(x, n_out, antialias) - expected).max() < 1e-5
