"""A batch task for the retry test: its worker process dies on the first try of each clip (as a worker killed
by the machine would), then it analyses the clip normally. Module-level, so a spawned worker can import it."""
from __future__ import annotations

import os
from pathlib import Path

from fer_core.batch.worker import ClipOutcome, analyse_clip


def die_once(clip, settings) -> ClipOutcome:
    marker = Path(os.environ["FER_LENS_TEST_MARKERS"]) / f"{clip.clip_id}.tried"
    if not marker.exists():
        marker.write_text("1")
        os._exit(1)
    return analyse_clip(clip, settings)
