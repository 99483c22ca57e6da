"""streams: shards -> decoded samples -> frames and batches, in an epoch plan exact across ranks.

    from streams import EventStream, ShardDataset, Subset
    stream = EventStream("shards/nmnist", split="train", shuffle=True).frames(16).batch(32)
    for batch in stream.loader(num_workers=4): ...

Layers: ``sources`` (where shard bytes come from) -> ``reader`` (checked reads of catalog
samples) -> ``plan`` (which samples each rank and worker reads: pure functions) and ``state``
(epochs, progress, checkpoints) -> ``stages`` (sample and batch stages, webdataset-compatible)
-> ``stream`` (``EventStream``, ``StreamLoader``) and ``mapstyle`` (``ShardDataset``);
``functional`` holds the pure kernels.
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
from neuroshards.sources import ShardStore

from . import stages
from .mapstyle import ShardDataset
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
    "ShardStore",
    "StreamLoader",
    "Subset",
    "functional",
    "stages",
]

functional = stages.F  # imported on first use (streams.lazy)
