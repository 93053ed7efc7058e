"""One adapter module per GEO-Bench-2 dataset; see :mod:`geobench.datasets.base`."""

from geobench.datasets.base import DatasetAdapter, DecodedSample, get_adapter

__all__ = ["DatasetAdapter", "DecodedSample", "get_adapter"]
