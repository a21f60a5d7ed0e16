"""One-off studies whose answers are recorded in MODELS.md (compare, crop jitter, test-time views, weight
averaging, the shared-media check). Development tools, not product code."""
