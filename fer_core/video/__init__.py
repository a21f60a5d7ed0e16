"""Faces over time: clip decoding (`decode`), tracks and smoothing (`tracking`), clip analysis (`analysis`),
per-face summaries (`summary`), exports (`export`) and the live webcam callback (`live`)."""
