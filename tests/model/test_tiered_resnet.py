"""The torch-only twin of timm's resnet10t that the app loads the built-in model into (no torchvision import
on a cold start) must be the same network: the same weights load strictly into both, and both give the same
logits and Grad-CAM layer shapes on real FER2013Test faces."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from fer_core.evaluation.metrics import predict_logits
from fer_core.model.catalog import DEFAULT_MODEL
from fer_core.model.checkpoint import load_model, resolve_model_path
from fer_core.model.spec import SPECS
from fer_core.model.tiered_resnet import TieredResNet10
from fer_core.training.data import load_dataset
from tests.conftest import require_shared


@pytest.fixture(scope="module")
def test_faces():
    ds = load_dataset(require_shared("data", "ferplus"), "auto", "test", 48)
    idx = np.random.default_rng(1).permutation(len(ds))[:256]
    return ds.subset(np.sort(idx))


def _timm_twin(spec, path):
    model = spec.create()
    model.load_state_dict({k: v.float() for k, v in load_file(str(path)).items()}, strict=False)
    return model.eval()


def test_builtin_model_loads_into_the_twin_with_every_weight() -> None:
    loaded = load_model(DEFAULT_MODEL)
    assert isinstance(loaded.model, TieredResNet10)
    theirs = _timm_twin(loaded.spec, resolve_model_path(DEFAULT_MODEL)).state_dict()
    ours = loaded.model.state_dict()
    assert ours.keys() == theirs.keys()
    assert all(ours[k].shape == theirs[k].shape and torch.equal(ours[k], theirs[k]) for k in ours)


def test_twin_gives_timm_logits_on_real_faces(test_faces) -> None:
    loaded = load_model(DEFAULT_MODEL)
    timm_model = _timm_twin(loaded.spec, resolve_model_path(DEFAULT_MODEL))
    ours = predict_logits(loaded.model, test_faces.images, loaded.spec)
    theirs = predict_logits(timm_model, test_faces.images, loaded.spec)
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    assert (ours.argmax(1) == theirs.argmax(1)).all()


@pytest.mark.parametrize("arch", ["resnet10t", "resnet10t_48", "resnet10t_s48"])
def test_twin_matches_timm_for_every_resnet10t_spec(arch: str) -> None:
    spec = SPECS[arch]
    theirs = spec.create().eval()
    ours = spec.create_for_inference().eval()
    ours.load_state_dict(theirs.state_dict())  # strict: the same names and shapes
    x = torch.randn(4, spec.in_chans, spec.input_size, spec.input_size, generator=torch.Generator().manual_seed(0))
    features = {}
    for name, model in (("ours", ours), ("theirs", theirs)):
        layer = dict(model.named_modules())[spec.cam_layer]
        handle = layer.register_forward_hook(lambda _m, _i, out, n=name: features.__setitem__(n, out.shape))
        with torch.no_grad():
            features[name + "-logits"] = model(x)
        handle.remove()
    torch.testing.assert_close(features["ours-logits"], features["theirs-logits"], atol=1e-5, rtol=1e-5)
    assert features["ours"] == features["theirs"]


def test_other_architectures_still_build_through_timm() -> None:
    assert not isinstance(SPECS["resnet10t_cbam"].create_for_inference(), TieredResNet10)


def test_first_label_imports_neither_torchvision_nor_timm() -> None:
    """What the cold start measures: a face read by the default model without either library."""
    code = ("import sys\n"
            "from fer_core.recognizer import Recognizer\n"
            "from fer_core.samples import sample_photo_rgb\n"
            "faces = Recognizer().analyze_rgb(sample_photo_rgb())\n"
            "print(len(faces), 'torchvision' in sys.modules, 'timm' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1", "False", "False"]
