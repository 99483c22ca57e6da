"""streams: composable iterable stages from shards to padded frame batches for torch."""

from . import functional, stages
from .dataset import EventStream, ShardSource
from .stages import SampleError
from .tario import ShardError

__all__ = ["EventStream", "SampleError", "ShardError", "ShardSource", "functional", "stages"]
