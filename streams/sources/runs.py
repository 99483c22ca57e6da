"""Byte runs of shards read in plan order, and the per-sample checks every read makes."""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO

from neuroshards.errors import IntegrityError, ShardError
from neuroshards.index import sample_checksum

if TYPE_CHECKING:
    from . import ShardStore


def read_into(stream: BinaryIO, view: memoryview, where: str, start: int) -> None:
    """Fill ``view`` from ``stream``; network and pipe reads may return less than asked."""
    filled = 0
    while filled < len(view):
        got = stream.readinto(view[filled:])
        if not got:
            raise ShardError(
                f"{where} at byte {start + filled}: shard ends early ({filled} of {len(view)} bytes of a run "
                "the index locates here); the shard is truncated or changed after its index was written"
            )
        filled += got


class RunReader:
    """Reads byte runs of shards in plan order, keeping the current shard's stream open so that
    consecutive runs continue one sequential read (one range request per shard and worker)."""

    def __init__(self, stores: "list[ShardStore]", files: list[tuple[int, str, int, str]]):
        self.stores = stores
        self.files = files  # per shard id: (store number, name in its directory, bytes, sha256)
        self._shard = -1
        self._position = 0
        self._stream: BinaryIO | None = None
        self._seekable = False
        self._buffer = bytearray()  # reused: fresh allocations per run cost page faults

    def where(self, shard: int) -> str:
        store, name, _, _ = self.files[shard]
        return self.stores[store].where(name)

    def read(self, shard: int, start: int, end: int) -> memoryview:
        """Bytes ``start:end`` of shard number ``shard``; valid until the next call."""
        if shard != self._shard or not (self._seekable or start == self._position):
            self.close()
            store_number, name, size, sha256 = self.files[shard]
            store = self.stores[store_number]
            cached = store.local_copy(name, size, sha256)
            if cached is not None:
                self._stream, self._seekable = open(cached, "rb", buffering=0), True
                self._stream.seek(start)
            else:
                self._stream, self._seekable = store.open(name, start, size=size), store.kind == "local"
            self._shard = shard
        elif self._seekable and start != self._position:
            self._stream.seek(start)  # type: ignore[union-attr]
        if len(self._buffer) < end - start:
            self._buffer = bytearray(end - start)
        view = memoryview(self._buffer)[: end - start]
        read_into(self._stream, view, self.where(shard), start)  # type: ignore[arg-type]
        self._position = end
        return view

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
        self._stream, self._shard = None, -1


def verify_run(data: memoryview, start: int, catalog, ids, where: str) -> None:
    """Check each sample of a run (``data`` = shard bytes from ``start`` on) against the checksum
    its index recorded, before anything decodes it."""
    for sample in ids.tolist():
        first = int(catalog.offset[sample]) - start
        size = int(catalog.size[sample])
        if sample_checksum(data[first : first + size]) != int(catalog.checksum[sample]):
            raise IntegrityError(
                f"{where} at byte {start + first}: sample {catalog.keys([sample])[0]!r} ({size} bytes) does not match "
                "the checksum in the index: the shard is damaged or changed after its index was written"
            )
