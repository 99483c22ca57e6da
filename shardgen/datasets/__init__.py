"""Dataset adapters: how each published dataset lays out its files, labels and splits."""

from . import (
    atis_datasets,  # noqa: F401  (registers its datasets)
    hdf5_datasets,  # noqa: F401  (registers shd, ssc, ntidigits18)
    inivation_datasets,  # noqa: F401
    mat_datasets,  # noqa: F401  (registers asldvs)
    navgesture,  # noqa: F401  (registers navgesture-walk and navgesture-sit)
    numpy_datasets,  # noqa: F401  (registers dvslip, hardvs, bullying10k, esimagenet, pokerdvs)
    own_recordings,  # noqa: F401  (registers folder and manifest)
)
from .base import DatasetAdapter, FileTask, Plan, Sample, Task, key_from_path
from .registry import DATASETS, get_dataset, register

__all__ = ["DATASETS", "DatasetAdapter", "FileTask", "Plan", "Sample", "Task", "get_dataset", "key_from_path", "register"]
