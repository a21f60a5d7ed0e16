"""`fer-lens showcase`: the sample the Home page offers and the face and change the Robustness page starts
with are the ones the measurement picks today, and the reason the app states (HOME_VERDICT) is what it
measures. Needs no ../shared: the candidates ship with installed packages."""
from __future__ import annotations

import json

import pytest

from fer_core.cli.main import main
from fer_core.evaluation.perturb import PERTURBATIONS
from fer_core.model.catalog import DEFAULT_MODEL
from fer_core.model.checkpoint import resolve_model_path
from fer_core.research.showcase import VISIBLE_DROP, FaceMeasure, choose, measure
from fer_core.samples import (
    HOME_SAMPLE,
    HOME_VERDICT,
    ROBUSTNESS_CHANGE,
    ROBUSTNESS_FACE,
    ROBUSTNESS_SAMPLE,
    SAMPLES,
    sample_png,
    sample_rgb,
)


@pytest.fixture(scope="module")
def faces() -> list[FaceMeasure]:
    try:
        resolve_model_path(DEFAULT_MODEL)
    except FileNotFoundError:
        pytest.skip(f"the built-in model {DEFAULT_MODEL} is not installed: the recorded choice is for it")
    import torch

    torch.set_num_threads(1)
    return measure(DEFAULT_MODEL)


def test_every_sample_ships_and_loads() -> None:
    from fer_core.imageio import load_image

    for name, sample in SAMPLES.items():
        assert sample.path().is_file(), f"{name} should ship with {sample.package}"
        rgb = sample_rgb(name)
        assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype.name == "uint8"
        assert (load_image(sample_png(name)) == rgb).all()
        assert "public domain" in sample.credit or "CC0" in sample.credit
    assert ROBUSTNESS_CHANGE in PERTURBATIONS


def test_the_app_uses_the_measured_choice(faces: list[FaceMeasure]) -> None:
    assert {f.sample for f in faces} <= set(SAMPLES) and len(faces) >= len(SAMPLES), "a face in every sample"
    choice = choose(faces)
    home, robust = choice["home"], choice["robustness"]
    assert (home["sample"], home["verdict"]) == (HOME_SAMPLE, HOME_VERDICT), choice["why"]
    assert choice["home_passed"] == (HOME_VERDICT == "faithful")
    assert not home["unsure"], "the showcase reading should not be one the app marks uncertain"
    assert robust is not None, choice["why"]
    assert (robust["sample"], robust["face"], robust["change"]) == (ROBUSTNESS_SAMPLE, ROBUSTNESS_FACE,
                                                                    ROBUSTNESS_CHANGE), choice["why"]
    start = next(f for f in faces if (f.sample, f.face) == (ROBUSTNESS_SAMPLE, ROBUSTNESS_FACE))
    effect = start.changes[ROBUSTNESS_CHANGE]
    assert effect["drop"] >= VISIBLE_DROP or effect["label"] != start.label, "the change must visibly move the score"
    assert max(v["drop"] for v in start.changes.values()) == effect["drop"]


def test_choose_prefers_a_map_that_passes() -> None:
    def face(sample: str, verdict: str, lead: float, unsure: bool = False, drop: float = 0.0) -> FaceMeasure:
        return FaceMeasure(sample, 0, "happiness", 0.9, unsure, verdict, 0.5 + lead, 0.5,
                           {"blur": {"score": 0.9 - drop, "drop": drop, "label": "happiness"}})

    faces = [face("a", "partial", 0.6, drop=0.3), face("b", "faithful", 0.1), face("c", "faithful", 0.5, unsure=True)]
    choice = choose(faces)
    assert choice["home"]["sample"] == "b" and choice["home_passed"]
    assert choice["robustness"]["sample"] == "a", "b's changes move nothing: the biggest visible drop elsewhere"
    assert "no packaged face" not in choice["why"]
    assert choose([face("a", "weak", 0.0)])["robustness"] is None


def test_the_command_prints_the_table_and_the_choice(faces, capsys) -> None:
    assert main(["showcase", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["choice"]["home"]["sample"] == HOME_SAMPLE and len(out["faces"]) == len(faces)
