"""Our detector + alignment framing, measured on FER faces themselves, centres on FER's own framing."""
from __future__ import annotations

import numpy as np

from fer_core.research.crop_jitter import SIZE, framing_offsets
from fer_core.training.data import load_dataset
from tests.conftest import require_shared


def test_alignment_reproduces_fer_framing_on_fer_faces() -> None:
    root = require_shared("data", "ferplus")
    ds = load_dataset(root, "auto", "valid", SIZE)
    off = framing_offsets(ds.images[:80])
    assert len(off["zoom"]) >= 60, "MTCNN should find landmarks on most FER faces"
    # the landmark template was measured on FER faces, so the typical face is framed as FER frames it...
    assert abs(np.median(off["zoom"]) - 1) < 0.08
    assert abs(np.median(off["dx"])) < 0.03 and abs(np.median(off["dy"])) < 0.03
    # ...while single faces differ: this spread is what training jitter must cover
    assert np.percentile(off["zoom"], 95) - np.percentile(off["zoom"], 5) > 0.1
