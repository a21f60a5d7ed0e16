"""`fer-lens compare` on real FER2013Valid faces: the paired counts agree with the accuracies."""
from __future__ import annotations

import json

from fer_core.cli.main import main
from fer_core.research.compare import compare_models
from tests.conftest import require_shared


def test_paired_counts_explain_the_accuracy_difference(capsys) -> None:
    root = require_shared("data", "ferplus")
    out = compare_models("fer-resnet10t-v2", "fer-resnet10t-cbam-v1", str(root), "valid", limit=400)
    first, second = out["models"]
    c = out["second_vs_first"]
    assert out["faces"] == 400 and first["model"] == "fer-resnet10t-v2"
    # faces the second gains minus faces it loses is exactly its extra number of correct faces
    assert round((second["accuracy"] - first["accuracy"]) * 400) == c["gained"] - c["lost"]
    assert c["gained"] + c["lost"] > 0 and 0 < c["mcnemar_exact_p"] <= 1
    assert 0.6 < first["accuracy"] <= 1 and 0 <= first["lowest_recall"]["recall"] <= 1
    same = compare_models("fer-resnet10t-v2", "fer-resnet10t-v2", str(root), "valid", limit=100)
    assert same["second_vs_first"] == {"gained": 0, "lost": 0, "mcnemar_exact_p": 1.0}
    assert main(["compare", "fer-resnet10t-v2", "fer-resnet10t-v2", "--limit", "50", "--json", "--threads", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["faces"] == 50
