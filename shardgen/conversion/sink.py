"""The shard sink: one split's samples written into a numbered series of tar shards, each under a
fresh temporary name (created exclusively) and renamed when complete, hashed as it is written
(sha256 per shard, xxh3 per sample) so that nothing is read back.
"""

from __future__ import annotations

import hashlib
import queue
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import xxhash

from neuroshards.atomic import naming_path, temporary_beside
from neuroshards.index import SampleColumns, ShardInfo
from neuroshards.record import EVENTS_MEMBER, LABEL_MEMBER
from neuroshards.tar import closed_tar_bytes, member_bytes, member_header, member_padding

SHARD_NAME = re.compile(r"^[A-Za-z0-9_-]+-\d{6}\.tar$")
#: What a split name may be: it becomes part of a file name in ``out``.
SPLIT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


#: What a sample key may not hold: path separators, the dot webdataset splits keys at, controls.
def part_tag(part: tuple[int, int]) -> str:
    """``(3, 8)`` -> ``"part0003of0008"``: in the shard and partial index names of part 3 of 8."""
    index, count = part
    if not 0 <= index < count:
        raise ValueError(f"part {index}/{count}: the part number must be in 0..{count - 1}")
    return f"part{index:04d}of{count:04d}"


def partial_index_name(part: tuple[int, int]) -> str:
    return f"index.{part_tag(part)}.json"


@dataclass
class EncodedSample:
    key: str
    label: int
    split: str
    record: bytes | memoryview
    n_events: int
    outside_sensor: bool  # some event lies beyond the sensor size (kept as read)


class _ShardFile:
    """A tar shard being written: members appended as tarfile lays them out, hashed as they pass,
    so the shard is never read back. Hashing and writing run on a helper thread (both release the
    GIL), overlapping the next sample's decoding and encoding, with at most ``IN_FLIGHT_BYTES``
    handed over and not yet written."""

    IN_FLIGHT_BYTES = 64 << 20
    BATCH_BYTES = 1 << 20

    def __init__(self, path: Path):
        """Write to a fresh temporary file beside ``path`` (see ``neuroshards.atomic.temporary_beside``)."""
        self.path = path
        self.temporary, self.file = temporary_beside(path)
        self.digest = hashlib.sha256()
        self.size = 0
        self._pending: queue.SimpleQueue[tuple[tuple[bytes | memoryview, ...], int] | None] = queue.SimpleQueue()
        self._batch: list[bytes | memoryview] = []
        self._batch_bytes = 0
        self._in_flight = 0
        self._written = threading.Condition()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="shard-writer", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while (batch := self._pending.get()) is not None:
            parts, size = batch
            if self._error is None:
                try:
                    for data in parts:
                        self.digest.update(data)
                        self.file.write(data)
                except OSError as error:  # a full or read-only disk: name the file
                    self._error = naming_path(error, self.temporary)
                except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
                    self._error = error
            with self._written:
                self._in_flight -= size
                self._written.notify()

    def _write(self, *parts: bytes | memoryview) -> None:
        """Queue ``parts`` to be written; they go over in batches of ``BATCH_BYTES``, as handing
        each small part to the thread would cost more than writing it."""
        size = sum(len(data) for data in parts)
        self._batch += parts
        self._batch_bytes += size
        self.size += size
        if self._batch_bytes >= self.BATCH_BYTES:
            self._hand_over()

    def _hand_over(self) -> None:
        if self._error is not None:
            raise self._error
        parts, size = tuple(self._batch), self._batch_bytes
        self._batch, self._batch_bytes = [], 0
        with self._written:
            while self._in_flight and self._in_flight + size > self.IN_FLIGHT_BYTES:
                self._written.wait()
            self._in_flight += size
        self._pending.put((parts, size))

    def _stop(self) -> None:
        if self._batch and self._error is None:
            self._hand_over()
        self._pending.put(None)
        self._thread.join()
        try:
            self.file.close()
        except OSError as error:
            if self._error is None:
                self._error = naming_path(error, self.temporary)

    def add_sample(self, members: Sequence[tuple[str, bytes | memoryview]]) -> int:
        """Append one sample's members; returns the checksum of the bytes it took (``sample_checksum``)."""
        digest = xxhash.xxh3_64()
        for name, payload in members:
            parts = (member_header(name, len(payload)), payload, member_padding(len(payload)))
            for part in parts:
                digest.update(part)
            self._write(*parts)
        return digest.intdigest()

    def finish(self) -> None:
        """The end-of-archive blocks, padded to the record size (as ``tarfile`` closes an archive)."""
        self._write(bytes(closed_tar_bytes(self.size) - self.size))
        self._stop()
        if self._error is not None:
            raise self._error

    def publish(self) -> None:
        """Rename the complete file to its final name (a symlink there is replaced, not followed)."""
        try:
            self.temporary.replace(self.path)
        except OSError as error:
            raise naming_path(error, self.path) from error

    def discard(self) -> None:
        self._batch.clear()
        self._stop()
        self.temporary.unlink(missing_ok=True)


class ShardSink:
    """Writes one split's samples into a numbered series of tar shards."""

    def __init__(
        self,
        out: Path,
        split: str,
        max_samples: int,
        max_bytes: int,
        name_prefix: str = "",
        on_shard: Callable[[Path], None] | None = None,
    ):
        self.out, self.split, self.name_prefix = out, split, name_prefix
        self.on_shard = on_shard  # told of each finished shard (an upload to object storage)
        self.max_samples, self.max_bytes = max_samples, max_bytes
        self.shards: list[ShardInfo] = []
        self.tables: list[SampleColumns] = []  # one per shard in ``shards``
        self._file: _ShardFile | None = None
        self._table: dict[str, list] = {}

    def add(self, sample: EncodedSample) -> None:
        label = str(sample.label).encode()
        size = member_bytes(len(sample.record)) + member_bytes(len(label))
        if self._file is not None and (
            len(self._table["key"]) >= self.max_samples or closed_tar_bytes(self._file.size + size) > self.max_bytes
        ):
            self._finish()
        if self._file is None:
            self._start()
        assert self._file is not None
        offset = self._file.size
        checksum = self._file.add_sample(
            ((f"{sample.key}.{EVENTS_MEMBER}", sample.record), (f"{sample.key}.{LABEL_MEMBER}", label))
        )
        for column, value in (
            ("key", sample.key),
            ("label", sample.label),
            ("n_events", sample.n_events),
            ("offset", offset),
            ("size", self._file.size - offset),
            ("checksum", checksum),
        ):
            self._table[column].append(value)

    def close(self) -> tuple[list[ShardInfo], list[SampleColumns]]:
        """The shards written, with the sample columns of each (shard numbers still to be assigned)."""
        if self._file is not None:
            self._finish()
        return self.shards, self.tables

    def abort(self) -> None:
        """Drop the shard being written (an error stopped the conversion)."""
        if self._file is not None:
            self._file.discard()
            self._file = None

    def _start(self) -> None:
        if not SPLIT_NAME.match(self.split):  # the writer checks first; this guards other callers
            raise ValueError(f"split {self.split!r} is not a plain name")
        name = f"{self.split}-{self.name_prefix}{len(self.shards):06d}.tar"
        self._file = _ShardFile(self.out / name)
        self._table = {column: [] for column in ("key", "label", "n_events", "offset", "size", "checksum")}

    def _finish(self) -> None:
        assert self._file is not None
        self._file.finish()
        self._file.publish()
        name = self._file.path.name
        self.shards.append(
            ShardInfo(
                path=name,
                split=self.split,
                n_samples=len(self._table["key"]),
                n_events=int(sum(self._table["n_events"])),
                bytes=self._file.size,
                sha256=self._file.digest.hexdigest(),
            )
        )
        self.tables.append(SampleColumns.build({**self._table, "shard": [0] * len(self._table["key"])}))
        self._file = None
        if self.on_shard is not None:
            self.on_shard(self.out / name)
