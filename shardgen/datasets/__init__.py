"""Dataset adapters: how each published dataset lays out its files, labels and splits."""

from . import atis_datasets  # noqa: F401  (registers its datasets)
from . import inivation_datasets  # noqa: F401
from .base import DatasetAdapter, FileTask, Plan, Sample, Task, key_from_path
from .registry import DATASETS, get_dataset, register

__all__ = ["DATASETS", "DatasetAdapter", "FileTask", "Plan", "Sample", "Task", "get_dataset", "key_from_path", "register"]
