"""neuroshards: the shard format shared by ``shardgen`` (which writes it) and ``streams`` (which reads it).

This package imports neither side. It holds the sample record (``record``), the index
(``index``: a JSON header and memory-mapped per-sample columns with checksums), the tar layout
written and read (``tar``), events in memory (``events``), sample keys (``keys``), every error
class (``errors``) and the access to where shards live (``sources``: local folders, HTTP and
object storage, with timeouts, retries and checks), which the writer and the readers share.
"""

from .errors import (
    ConversionError,
    EngineError,
    FormatError,
    IndexFileError,
    IntegrityError,
    NeuroshardsError,
    PlanError,
    RecordError,
    SampleError,
    ShardError,
    ShardNotFoundError,
)
from .events import Events
from .index import DatasetIndex, SampleColumns, ShardInfo, load_index, save_index

__version__ = "0.2.0"

__all__ = [
    "ConversionError",
    "DatasetIndex",
    "Events",
    "FormatError",
    "IndexFileError",
    "EngineError",
    "IntegrityError",
    "NeuroshardsError",
    "PlanError",
    "RecordError",
    "SampleColumns",
    "SampleError",
    "ShardError",
    "ShardInfo",
    "ShardNotFoundError",
    "__version__",
    "load_index",
    "save_index",
]
