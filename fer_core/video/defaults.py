"""Clip-analysis defaults, apart from the analysis code, so that the command line reads them without importing
torch."""

DEFAULT_FPS = 5.0  # frames analysed per second of clip
SMOOTH_HALF_LIFE_S = 0.4  # half-life of the probability smoothing along a face's track
