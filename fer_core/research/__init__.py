"""One-off studies whose answers are recorded in MODELS.md (compare, crop jitter, test-time views, weight
averaging, the shared-media check), and the showcase measurement that `fer_core/samples.py` records.
Development tools, not product code."""
