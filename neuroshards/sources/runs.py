"""Byte runs of shards read in plan order, and the per-sample checks every read makes."""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO

from neuroshards.errors import ShardError

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


# Remote runs up to this size are fetched alone (one exact ranged request) once the plan proves
# random (a stream served one run only); larger ones, and sequential plans, stream to the shard's end.
BOUNDED_RUN_BYTES = 8 << 20


class RunReader:
    """Reads byte runs of shards in plan order, keeping the current shard's stream open so that
    consecutive runs continue one sequential read (one range request per shard and worker).
    Remotely, when streams keep serving a single run (``shuffle="sample"``: each sample elsewhere),
    each small run becomes one exact ranged request instead of a stream that reads ahead."""

    def __init__(self, stores: list[ShardStore], files: list[tuple[int, str, int, str]]):
        self.stores = stores
        self.files = files  # per shard id: (store number, name in its directory, bytes, sha256)
        self._shard = -1
        self._position = 0
        self._stream: BinaryIO | None = None
        self._seekable = False
        self._runs = 0  # runs read from the current stream
        self._bounded = False  # whether the current stream ends with its one run
        self._sequential = True  # whether the last stream served more than one run
        self._buffer = bytearray()  # reused: fresh allocations per run cost page faults

    def where(self, shard: int) -> str:
        store, name, _, _ = self.files[shard]
        return self.stores[store].where(name)

    def read(self, shard: int, start: int, end: int) -> memoryview:
        """Bytes ``start:end`` of shard number ``shard``; valid until the next call."""
        if shard != self._shard or self._bounded or not (self._seekable or start == self._position):
            reads_on = shard == self._shard and start == self._position  # after a bounded run: the plan is sequential
            self.close()
            self._sequential = self._sequential or reads_on
            store_number, name, size, sha256 = self.files[shard]
            store = self.stores[store_number]
            cached = store.local_copy(name, size, sha256)
            if cached is not None:
                self._stream, self._seekable = open(cached, "rb", buffering=0), True
                self._stream.seek(start)
            else:
                self._bounded = store.kind != "local" and not self._sequential and end - start <= BOUNDED_RUN_BYTES
                self._stream = store.open(name, start, end=end if self._bounded else None, size=size)
                self._seekable = store.kind == "local"
            self._shard = shard
        elif self._seekable and start != self._position:
            self._stream.seek(start)  # type: ignore[union-attr]
        if len(self._buffer) < end - start:
            self._buffer = bytearray(end - start)
        view = memoryview(self._buffer)[: end - start]
        read_into(self._stream, view, self.where(shard), start)  # type: ignore[arg-type]
        self._position = end
        self._runs += 1
        return view

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._sequential = self._runs > 1
        self._stream, self._shard, self._runs, self._bounded = None, -1, 0, False
