"""Every error the project raises on bad input, in one place.

All derive from ``NeuroshardsError`` (a ``ValueError``), so ``except neuroshards.NeuroshardsError``
catches any bad recording, shard, index or plan, and nothing else. Each message names the file
(or URL), the sample key and the byte offset where they are known.
"""

from __future__ import annotations


class NeuroshardsError(ValueError):
    """Base class of the project's errors."""


class FormatError(NeuroshardsError):
    """Bytes that are not a valid recording; the message names the file and the byte offset."""

    def __init__(self, source: str, offset: int | None, problem: str):
        where = f"{source} at byte {offset}" if offset is not None else source
        super().__init__(f"{where}: {problem}")
        self.source = source
        self.offset = offset
        self.problem = problem


class RecordError(NeuroshardsError):
    """A record that cannot be encoded or decoded; the message names the sample."""


class ShardError(NeuroshardsError):
    """A shard that cannot be read; the message names the shard, the byte offset and the member."""


class ShardNotFoundError(ShardError):
    """A file of the dataset that is not there (HTTP 404, no such object or file)."""


class IntegrityError(ShardError):
    """Bytes that differ from what the index recorded (checksum or size): the shard was damaged
    or changed after its index was written."""


class IndexFileError(NeuroshardsError):
    """An index that cannot be used; the message names the file."""


class PlanError(NeuroshardsError):
    """An epoch plan that cannot be made (too few samples for the ranks and workers, ...)."""


class SampleError(NeuroshardsError):
    """A sample that a stage cannot process; the message names the shard and the sample key."""
