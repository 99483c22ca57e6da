"""streams: shards -> decoded samples -> frames and batches, in an epoch plan exact across ranks.

    from streams import EventStream, ShardDataset, Subset
    stream = EventStream("shards/nmnist", split="train", shuffle=True).frames(16).batch(32)
    for batch in stream.loader(num_workers=4): ...

Layers: ``neuroshards.sources`` (where shard bytes come from) -> ``reader`` (checked reads of catalog
samples) -> ``plan`` (which samples each rank and worker reads: pure functions) and ``state``
(epochs, progress, checkpoints) -> ``stages`` (sample and batch stages, webdataset-compatible)
-> ``stream`` (``EventStream``, ``StreamLoader``) and ``mapstyle`` (``ShardDataset``);
``functional`` holds the pure kernels, ``transforms`` Tonic's transforms and representations,
``datasets`` SpikingJelly's dataset classes, ``splits`` the community's splits (all loaded on use).
"""

from neuroshards.errors import (
    IndexFileError,
    IntegrityError,
    NeuroshardsError,
    PlanError,
    RecordError,
    SampleError,
    ShardError,
)
from neuroshards.sources import RemoteOptions, ShardStore

from . import stages
from .mapstyle import ShardDataset
from .splits import spikingjelly_split, tebn_split
from .stream import EventStream, StreamLoader
from .subset import Subset

__all__ = [
    "EventStream",
    "IndexFileError",
    "IntegrityError",
    "NeuroshardsError",
    "PlanError",
    "RecordError",
    "SampleError",
    "ShardDataset",
    "ShardError",
    "RemoteOptions",
    "ShardStore",
    "StreamLoader",
    "Subset",
    "functional",
    "spikingjelly_split",
    "stages",
    "tebn_split",
]

functional = stages.F  # imported on first use (streams.lazy)
