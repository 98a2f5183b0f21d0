"""Data: datasets (real, synthetic, original raw files), leave-one-out windows (method.md, Split)."""
from .dataset import SequenceDataset
from .loaders import KNOWN_DATASETS, load_dataset
from .synthetic import make_synthetic
from .windows import Split, Windows, leave_one_out

__all__ = ["SequenceDataset", "load_dataset", "KNOWN_DATASETS", "make_synthetic", "leave_one_out", "Split", "Windows"]
