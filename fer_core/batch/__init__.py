"""Batch analysis of many clips: one clip per unit of work, resumable, on a local process pool or on Ray."""
