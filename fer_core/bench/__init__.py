"""Benchmarks behind `fer-lens *-bench`: latency, the live callback, clip analysis, face finders and
heatmaps. Development tools, not product code."""
