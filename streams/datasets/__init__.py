"""Datasets with the names and arguments of other libraries' classes, reading neuroshards shards.

``streams.datasets.spikingjelly``: SpikingJelly 2.0's neuromorphic datasets (``DVS128Gesture``,
``CIFAR10DVS``, ``NMNIST``, ...); every class is also importable from here.
"""

from .spikingjelly import *  # noqa: F403
from .spikingjelly import __all__
