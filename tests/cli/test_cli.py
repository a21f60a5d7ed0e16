"""The command line as a user runs it: `python -m fer_core ...` in a subprocess, JSON schemas checked."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fer_core.labels import CLASSES
from tests.conftest import REPO, require_shared


def run_cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fer_core", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def test_predict_json_schema_and_happy_face() -> None:
    happy = require_shared("media/photos/faceapi_happy.jpg")
    group = require_shared("media/photos/faceapi_bbt2.jpg")
    proc = run_cli("predict", str(happy), str(group), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert [r["file"] for r in out] == [str(happy), str(group)]
    assert out[0]["faces"][0]["label"] == "happiness"
    assert len(out[1]["faces"]) >= 3
    for record in out:
        for face in record["faces"]:
            assert set(face) >= {"box", "score", "label", "probs"}
            assert len(face["box"]) == 4 and all(isinstance(v, float) for v in face["box"])
            assert list(face["probs"]) == list(CLASSES)
            assert face["label"] == max(face["probs"], key=face["probs"].get)
            # every frontal face here gets its 468 mesh points and the movements measured on them
            mesh = face["mesh"]
            assert len(mesh) == 468 and all(len(p) == 3 for p in mesh)
            x, y, w, h = face["box"]
            assert x - w < sum(p[0] for p in mesh) / 468 < x + 2 * w
            assert set(face["movements"]) >= {"mouth_corners_raised", "mouth_open", "brows_raised", "eyes_widened"}


def test_predict_table_and_bad_file(tmp_path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    happy = require_shared("media/photos/faceapi_happy.jpg")
    proc = run_cli("predict", str(happy), str(bad))
    assert proc.returncode == 0, proc.stderr
    assert "happiness" in proc.stdout
    assert "ERROR" in proc.stdout and "broken.png" in proc.stdout


def test_evaluate_slice_of_test_split() -> None:
    data = require_shared("data/ferplus")
    proc = run_cli("evaluate", str(data), "--split", "test", "--limit", "600", "--json")
    assert proc.returncode == 0, proc.stderr
    m = json.loads(proc.stdout)
    assert set(m) >= {"accuracy", "macro_f1", "per_class_recall", "confusion", "ece", "n"}
    assert m["n"] == 600
    assert sum(map(sum, m["confusion"])) == 600
    assert m["accuracy"] > 0.7, m["accuracy"]  # chance is ~35% (always "neutral")
    assert 0 <= m["ece"] < 0.2


def test_evaluate_folders_with_missing_classes(tmp_path) -> None:
    """A folder set with synonyms and only some classes reports accuracy over the classes present."""
    from PIL import Image

    from fer_core.training.data import load_dataset

    test = load_dataset(require_shared("data/ferplus"), "ferplus", "test")
    for folder, cls in (("happy", 1), ("surprised", 2), ("Angry", 4)):
        (tmp_path / folder).mkdir()
        for i in [i for i, label in enumerate(test.labels) if label == cls][:30]:
            Image.fromarray(test.images[i]).save(tmp_path / folder / f"{i}.png")
    proc = run_cli("evaluate", str(tmp_path), "--layout", "folders", "--json")
    assert proc.returncode == 0, proc.stderr
    m = json.loads(proc.stdout)
    assert m["n"] == 90
    assert m["classes_present"] == ["happiness", "surprise", "anger"]
    assert m["accuracy_present_classes"] >= m["accuracy"]


@pytest.mark.parametrize("args", [["predict"], ["evaluate"], ["nonsense"]])
def test_usage_errors_exit_nonzero(args: list[str]) -> None:
    proc = run_cli(*args)
    assert proc.returncode != 0 and "usage" in proc.stderr.lower()


def test_bench_json_keys() -> None:
    proc = run_cli("bench", "--json", "--repeats", "3")
    assert proc.returncode == 0, proc.stderr
    b = json.loads(proc.stdout)
    assert set(b) >= {"threads", "classify_ms_b1", "classify_faces_per_s_b64", "detect_ms_640x480",
                      "analyze_ms_1280x720"}
    assert {"haar", "mtcnn", "blazeface", "blazeface-full", "default"} <= set(b["detect_ms_640x480"])
    assert b["classify_ms_b1"] > 0 and b["classify_faces_per_s_b64"] > 0
    if b["analyze_with_mesh"]:  # the new keys, beside the old ones
        assert b["mesh_ms_per_face"] > 0 and b["analyze_ms_1280x720_without_mesh"] > 0
        if b["analyze_faces"] == 3:  # the three shared faces (../shared present): timed, not compared
            assert b["mesh_ms_3_faces"] > 0  # (which is faster is the benchmark's figure, noisy on 2 cores)


def test_bench_of_an_exported_model_times_its_reference_too() -> None:
    from fer_core.model.catalog import DEFAULT_MODEL, int8_twin

    twin = int8_twin(DEFAULT_MODEL)
    if twin is None:
        pytest.skip(f"no int8 twin of {DEFAULT_MODEL} is shipped")
    proc = run_cli("bench", "--json", "--repeats", "3", "--model", twin)
    assert proc.returncode == 0, proc.stderr
    b = json.loads(proc.stdout)
    assert b["engine"] == "onnxruntime" and b["reference"]["model"] == DEFAULT_MODEL
    ref = b["reference"]
    speedup = b["classify_faces_per_s_b64"] / ref["classify_faces_per_s_b64"]
    assert ref["speedup_b64"] == pytest.approx(speedup, rel=0.01)
