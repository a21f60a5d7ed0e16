"""Where the optional shared development data lives (never part of the installed product)."""
from __future__ import annotations

import os
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """`$FER_LENS_SHARED`, else `<repo>/../shared` (data and media for development, tests and benchmarks)."""
    return Path(os.environ.get("FER_LENS_SHARED", REPO_DIR.parent / "shared")).resolve()
