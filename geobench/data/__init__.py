"""Torch datasets and loaders over the prepared HDF5 files."""

from geobench.data.dataset import PreparedDataset, collate

__all__ = ["PreparedDataset", "collate"]
