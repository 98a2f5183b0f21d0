"""Data: datasets (real, synthetic, original raw files, your own interactions), leave-one-out windows
(method.md, Split)."""
from .dataset import SequenceDataset
from .interactions import dataset_from_frame, read_interactions, read_item_labels
from .loaders import KNOWN_DATASETS, load_dataset
from .synthetic import make_synthetic
from .windows import Split, Windows, leave_one_out

__all__ = ["SequenceDataset", "load_dataset", "KNOWN_DATASETS", "make_synthetic", "leave_one_out", "Split", "Windows",
           "read_interactions", "dataset_from_frame", "read_item_labels"]
