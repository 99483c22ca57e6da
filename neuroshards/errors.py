"""Every error the project raises on bad input, in one place.

All derive from ``NeuroshardsError`` (a ``ValueError``), so ``except neuroshards.NeuroshardsError``
catches any bad recording, shard, index or plan, and nothing else. Each message names the file
(or URL), the sample key and the byte offset where they are known.
"""

from __future__ import annotations


class NeuroshardsError(ValueError):
    """Base class of the project's errors."""


class FormatError(NeuroshardsError):
    """Bytes that are not a valid recording.

    Attributes: ``source`` (the file, ``archive:member`` inside an archive), ``offset`` (byte offset
    of the problem, or None), ``problem``, ``format`` (the reader's format name, when known) and
    ``sample`` (the sample key being converted, set by the shard writer)."""

    def __init__(self, source: str, offset: int | None, problem: str, *, format: str | None = None, sample: str | None = None):
        self.source, self.offset, self.problem = source, offset, problem
        self.format, self.sample = format, sample
        super().__init__(source, offset, problem)

    def __str__(self) -> str:
        """``file at byte N: problem (format F, sample K)``: one line, the parts that are known."""
        where = f"{self.source} at byte {self.offset}" if self.offset is not None else self.source
        facts = [f"format {self.format}"] * bool(self.format) + [f"sample {self.sample}"] * bool(self.sample)
        return f"{where}: {self.problem}" + (f" ({', '.join(facts)})" if facts else "")

    def __reduce__(self):  # workers send it to the parent process pickled
        return _rebuild, (type(self), self.source, self.offset, self.problem, self.format, self.sample)


def _rebuild(kind, source, offset, problem, format, sample):
    return kind(source, offset, problem, format=format, sample=sample)


class ConversionError(FormatError, RuntimeError):
    """A recording that could not be converted: ``source`` (the raw file), ``format``, ``offset``
    where known, ``sample`` (the key being converted) and ``problem``; ``str()`` is one line."""


class RawInputError(NeuroshardsError):
    """Raw input that cannot be used; the message names the file."""


class SliceError(NeuroshardsError):
    """Events that cannot be cut as asked (e.g. timestamps not sorted)."""


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


class EngineError(NeuroshardsError):
    """A distributed conversion engine (a Ray cluster) that cannot run or finish the conversion;
    the message names the cluster address or the part that failed."""
