"""The pupils' address as a QR code (with `segno`), so a class can scan it off the projector instead of typing
an IP address and port: as PNG bytes for the teacher's screen, and as text for the terminal."""
from __future__ import annotations

import io

import segno

ERROR_LEVEL = "m"  # survives a glare spot on a projected screen; a short URL stays a small code


def qr_png(url: str, scale: int = 8) -> bytes:
    """PNG bytes, in memory (nothing is written to disk), with the standard quiet zone around the code."""
    buffer = io.BytesIO()
    segno.make(url, error=ERROR_LEVEL, boost_error=False).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def qr_terminal(url: str) -> str:
    """The code as text for a terminal, two modules per character row (half blocks), so it fits on a laptop
    screen. Phones scan it from the terminal window."""
    buffer = io.StringIO()
    segno.make(url, error=ERROR_LEVEL, boost_error=False).terminal(out=buffer, compact=True, border=2)
    return buffer.getvalue()
