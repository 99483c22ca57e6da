"""``shardgen verify DIR_OR_URL``: check a dataset against its index, shard by shard.

The index is checked as every reader checks it (schema, the sample columns' checksum). Then each
shard is read once, start to end: its size and whole-shard sha256 against the index, and every
sample's bytes against its xxh3 checksum. Each bad shard is reported on one line naming what is
wrong (missing, size, sha256, the first bad samples by key and byte offset); nothing stops at the
first bad shard.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from neuroshards.errors import IndexFileError, ShardError, ShardNotFoundError
from neuroshards.index import DatasetIndex, sample_checksum
from neuroshards.sources import ShardStore

READ_CHUNK = 4 << 20
SAMPLES_NAMED = 3  # bad samples named per shard; the rest are counted


@dataclass
class ShardReport:
    path: str
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"BAD {self.path}: " + "; ".join(self.problems)


@dataclass
class VerifyReport:
    location: str
    n_shards: int = 0
    n_samples: int = 0
    bytes: int = 0
    index_problem: str | None = None
    bad: list[ShardReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.index_problem is None and not self.bad

    def summary(self) -> str:
        if self.index_problem is not None:
            return f"{self.location}: the index cannot be used: {self.index_problem}"
        verdict = "all good" if self.ok else f"{len(self.bad)} of {self.n_shards} shards bad"
        return f"{self.location}: {self.n_shards} shards, {self.n_samples} samples, {self.bytes / 1e6:.2f} MB checked: {verdict}"


def _pieces(stream, boundaries: Iterator[tuple[int, int]]) -> Iterator[tuple[str, bytes]]:
    """The shard's bytes in order as ("gap", bytes) and ("sample", bytes) pieces, then ("rest", ...)."""
    position = 0
    for start, end in boundaries:
        if start > position:
            yield "gap", _read_exactly(stream, start - position)
            position = start
        yield "sample", _read_exactly(stream, end - start)
        position = end
    while chunk := stream.read(READ_CHUNK):
        yield "rest", chunk


def _read_exactly(stream, count: int) -> bytes:
    parts, missing = [], count
    while missing:
        chunk = stream.read(min(missing, READ_CHUNK))
        if not chunk:
            break
        parts.append(chunk)
        missing -= len(chunk)
    return b"".join(parts)


def verify_shard(store, index: DatasetIndex, number: int) -> ShardReport:
    shard = index.shards[number]
    report = ShardReport(shard.path)
    rows = np.flatnonzero(index.samples.shard == number)
    rows = rows[np.argsort(index.samples.offset[rows], kind="stable")]
    offsets, sizes = index.samples.offset[rows].tolist(), index.samples.size[rows].tolist()
    digest, size, bad_samples = hashlib.sha256(), 0, []
    try:
        with store.open(shard.path, 0) as stream:
            samples = iter(zip(rows.tolist(), offsets, sizes))
            for kind, data in _pieces(stream, ((offset, offset + length) for offset, length in zip(offsets, sizes))):
                digest.update(data)
                size += len(data)
                if kind == "sample":
                    row, offset, length = next(samples)
                    if len(data) != length or sample_checksum(data) != int(index.samples.checksum[row]):
                        bad_samples.append(f"{index.samples.key_of(row)!r} at byte {offset}")
    except ShardError as error:
        report.problems.append(("missing: " if isinstance(error, ShardNotFoundError) else "cannot read: ") + str(error))
        return report
    if size != shard.bytes:
        report.problems.append(f"size {size} bytes, the index records {shard.bytes}")
    if digest.hexdigest() != shard.sha256:
        report.problems.append(f"sha256 {digest.hexdigest()[:16]}..., the index records {shard.sha256[:16]}...")
    if bad_samples:
        named = ", ".join(bad_samples[:SAMPLES_NAMED])
        more = f" and {len(bad_samples) - SAMPLES_NAMED} more" if len(bad_samples) > SAMPLES_NAMED else ""
        report.problems.append(f"{len(bad_samples)} of {len(rows)} samples fail their checksum: {named}{more}")
    return report


def verify_dataset(location: str | os.PathLike, *, on_shard: Callable[[ShardReport], None] | None = None) -> VerifyReport:
    """Check the dataset at ``location`` (folder, index.json, or URL); ``on_shard`` sees each
    shard's report as it is made."""
    store = ShardStore(location)
    report = VerifyReport(store.location)
    try:
        index = store.load_index()
    except (IndexFileError, ShardError) as error:
        report.index_problem = str(error)
        return report
    report.n_shards, report.n_samples = len(index.shards), len(index.samples)
    report.bytes = sum(shard.bytes for shard in index.shards)
    for number in range(len(index.shards)):
        shard_report = verify_shard(store, index, number)
        if shard_report.problems:
            report.bad.append(shard_report)
        if on_shard is not None:
            on_shard(shard_report)
    return report
