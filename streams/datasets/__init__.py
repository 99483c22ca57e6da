"""Datasets with the names and arguments of other libraries' classes, reading neuroshards shards.

``streams.datasets.spikingjelly``: SpikingJelly 2.0's neuromorphic datasets (``DVS128Gesture``,
``CIFAR10DVS``, ``NMNIST``, ...); every class is also importable from here.
"""

from .spikingjelly import (
    ASLDVS,
    CIFAR10DVS,
    HARDVS,
    NMNIST,
    Bullying10kClassification,
    CIFAR10DVSTEBNSplit,
    DVS128Gesture,
    DVSLip,
    ESImageNet,
    NAVGestureSit,
    NAVGestureWalk,
    NCaltech101,
    NeuromorphicDatasetFolder,
    SpikingHeidelbergDigits,
    SpikingSpeechCommands,
)

__all__ = [
    "ASLDVS",
    "Bullying10kClassification",
    "CIFAR10DVS",
    "CIFAR10DVSTEBNSplit",
    "DVS128Gesture",
    "DVSLip",
    "ESImageNet",
    "HARDVS",
    "NAVGestureSit",
    "NAVGestureWalk",
    "NCaltech101",
    "NMNIST",
    "NeuromorphicDatasetFolder",
    "SpikingHeidelbergDigits",
    "SpikingSpeechCommands",
]
