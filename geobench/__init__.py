"""geobench: a benchmarking harness for geospatial foundation models (GEO-Bench-2 protocol)."""

__version__ = "0.1.0"
