"""Train/test key sets computed from an index alone (no sample is read), for datasets whose
authors publish no split but whose community uses a fixed rule (CIFAR10-DVS).

    index = load_index("shards/cifar10dvs")
    train, test = spikingjelly_split(index, 0.9)      # split_to_train_test_set(0.9, ..., random_split=False)
    train, test = tebn_split(index)                   # files 0-99 of each class test, 100-999 train
    stream = EventStream("shards/cifar10dvs", split="all", subset=Subset.keys(train))
"""

from __future__ import annotations

import math
import re

from neuroshards.index import DatasetIndex, IndexFileError, iter_split_keys

_TRAILING_NUMBER = re.compile(r"(\d+)$")


def index_samples(index: DatasetIndex) -> list[tuple[str, int]]:
    """(key, label) of every sample, in index order."""
    return list(iter_split_keys(index, "all"))


def first_fraction_per_class(samples: list[tuple[str, int]], train_ratio: float) -> tuple[list[str], list[str]]:
    """SpikingJelly's ``split_to_train_test_set(train_ratio, ..., random_split=False)``: per class,
    the first ``ceil(n * train_ratio)`` samples (in the given order) train, the rest test; keys
    returned class by class."""
    if not 0 <= train_ratio <= 1:
        raise ValueError(f"train_ratio must lie in [0, 1], got {train_ratio}")
    by_label: dict[int, list[str]] = {}
    for key, label in samples:
        by_label.setdefault(label, []).append(key)
    train, test = [], []
    for label in sorted(by_label):
        keys = by_label[label]
        cut = math.ceil(len(keys) * train_ratio)
        train += keys[:cut]
        test += keys[cut:]
    return train, test


def _require(index: DatasetIndex, fact: str) -> None:
    if fact not in index.extra:
        raise IndexFileError(f"{index.dataset}: its index does not record {fact!r}; this split is defined for cifar10dvs")


def spikingjelly_split(index: DatasetIndex, train_ratio: float) -> tuple[list[str], list[str]]:
    """The keys SpikingJelly's ``split_to_train_test_set(train_ratio, CIFAR10DVS(...), 10)`` puts
    in its train and test subsets (its file order: by label, then file name as a string)."""
    _require(index, "spikingjelly_order")
    return first_fraction_per_class(_spikingjelly_order(index), train_ratio)


def tebn_split(index: DatasetIndex) -> tuple[list[str], list[str]]:
    """The TEBN split (``CIFAR10DVSTEBNSplit``): file numbers below ``tebn_test_below`` (100) of each
    class test, the others train; keys in SpikingJelly's order."""
    _require(index, "tebn_test_below")
    below = int(index.extra["tebn_test_below"])
    train: list[str] = []
    test: list[str] = []
    for key, _label in _spikingjelly_order(index):
        match = _TRAILING_NUMBER.search(key)
        if match is None:
            raise IndexFileError(f"{index.dataset}: key {key!r} does not end with a file number")
        (test if int(match.group(1)) < below else train).append(key)
    return train, test


def _spikingjelly_order(index: DatasetIndex) -> list[tuple[str, int]]:
    """(key, label) of every sample in SpikingJelly's file order: by label, then key as a string."""
    return sorted(index_samples(index), key=lambda pair: (pair[1], pair[0]))
