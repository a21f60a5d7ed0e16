"""Which clips a batch covers, and the stable id each one's outputs are filed under."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".mpg", ".mpeg", ".ogv", ".3gp",
                            ".wmv", ".flv", ".ts"})


@dataclass(frozen=True)
class Clip:
    """One clip of a batch: where it is (or its bytes, for an upload kept in memory), and the id its outputs
    are filed under (OUT/clips/<clip_id>/)."""

    path: Path
    clip_id: str
    data: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def source(self) -> str | bytes:
        """What the video decoder reads: the bytes of an upload, else the file's path."""
        return self.data if self.data is not None else str(self.path)


def uploaded_clip(name: str, data: bytes) -> Clip:
    """An uploaded clip, analysed from memory: its id comes from its name and content, never from a path."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(name).stem).strip("_")[:40] or "clip"
    return Clip(Path(Path(name).name), f"{stem}-{hashlib.sha1(data).hexdigest()[:8]}", data)


def clip_id(path: str | Path) -> str:
    """A readable, stable id: the file's stem (filesystem-safe) and a short hash of its absolute path, so two
    clips with the same name in different folders never share outputs, and a rerun finds its own."""
    resolved = Path(path).resolve()
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", resolved.stem).strip("_")[:40] or "clip"
    return f"{stem}-{hashlib.sha1(str(resolved).encode()).hexdigest()[:8]}"


def find_clips(inputs: Iterable[str | Path]) -> list[Clip]:
    """Files as given (whatever their extension: a file that is not a video fails with its reason) and, in
    folders, every file with a video extension, searched recursively; in order, each clip once."""
    found: list[Path] = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
                            and not any(part.startswith(".") for part in p.relative_to(path).parts))
        elif path.exists():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    seen: set[Path] = set()
    clips = []
    for path in found:
        if path.resolve() not in seen:
            seen.add(path.resolve())
            clips.append(Clip(path, clip_id(path)))
    return clips
