"""streams: composable iterable stages from shards to padded frame batches for torch."""

from . import functional, stages
from .dataset import EventStream, ShardSource, StreamLoader
from .plan import PlanError
from .stages import SampleError
from neuroshards.errors import ShardError

__all__ = ["EventStream", "PlanError", "SampleError", "ShardError", "ShardSource", "StreamLoader", "functional", "stages"]
