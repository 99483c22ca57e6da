"""Reading catalog samples from their stores: every sample's bytes are checked against the checksum
its index recorded before its tar members are parsed, locally, over HTTP and from object storage.

``SampleReader.read`` serves a whole plan (runs of byte-adjacent samples read in one request,
delivered in plan order); ``SampleReader.read_one`` serves random access (one positioned read).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from neuroshards.errors import IntegrityError
from neuroshards.index import sample_checksum
from neuroshards.sources import RunReader, ShardStore

from .lazy import lazy_module
from .plan import Catalog, read_order, read_runs

tar = lazy_module("neuroshards.tar")  # its numba header scan loads with the first read
# Samples at least this large are checked and parsed one at a time, so that the parse finds the
# bytes the check just read still in the CPU cache (a 4 MB run checked whole has left it).
LARGE_SAMPLE_BYTES = 256 << 10


class SampleReader:
    """Raw samples (``{"__key__", "__url__", "events.msgpack", "cls"}``) of a catalog."""

    def __init__(self, stores: Sequence[ShardStore], catalog: Catalog, *, verify: bool = True):
        self.stores, self.catalog = list(stores), catalog
        self.verify = verify  # off only to measure what the checks cost (scripts/bench/bench_read.py)
        self._runs = RunReader(self.stores, catalog.files)

    @staticmethod
    def warm_up() -> None:
        """Load the tar parser's compiled kernels in this process, so DataLoader workers forked
        from it inherit them instead of each loading them again every epoch."""
        tar.samples_in_run(b"", "warm-up", 0, [])

    def where(self, shard: int) -> str:
        number, name, _, _ = self.catalog.files[shard]
        return self.stores[number].where(name)

    def read(self, ids: np.ndarray, window: int = 64) -> Iterator[dict]:
        """Samples ``ids`` in this order; read in storage order within windows of ``window``
        samples, so at most a window is held."""
        order = read_order(self.catalog, ids, window)
        pending: dict[int, dict] = {}
        next_position = 0
        try:
            for shard, start, end, positions in read_runs(self.catalog, ids, order):
                data = self._runs.read(shard, start, end)
                for position, sample in zip(positions.tolist(), self._parse(data, shard, start, ids[positions])):
                    pending[position] = sample
                while next_position in pending:
                    yield pending.pop(next_position)
                    next_position += 1
        finally:
            self._runs.close()

    def read_one(self, sample: int) -> dict:
        """Sample ``sample`` by one positioned read."""
        catalog = self.catalog
        number, name, _, _ = catalog.files[catalog.shard[sample]]
        start = int(catalog.offset[sample])
        data = memoryview(self.stores[number].read_range(name, start, start + int(catalog.size[sample])))
        (parsed,) = self._parse(data, int(catalog.shard[sample]), start, np.array([sample]))
        return parsed

    def _parse(self, data: memoryview, shard: int, start: int, ids: np.ndarray) -> list[dict]:
        where = self.where(shard)
        catalog = self.catalog
        keys = catalog.keys(ids)
        if not self.verify:
            return tar.samples_in_run(data, where, start, keys)
        # Python ints, fetched once per run: the per-sample loop is most of the checks' cost.
        offsets, sizes, expected = (column[ids].tolist() for column in (catalog.offset, catalog.size, catalog.checksum))
        if sum(sizes) < LARGE_SAMPLE_BYTES * len(sizes):  # small samples: check them all, then parse the run at once
            for offset, size, checksum, key in zip(offsets, sizes, expected, keys):
                self._check(data[offset - start : offset - start + size], checksum, where, offset, key)
            return tar.samples_in_run(data, where, start, keys)
        samples = []  # large samples: each parsed right after its check, while its bytes are still in cache
        for offset, size, checksum, key in zip(offsets, sizes, expected, keys):
            piece = data[offset - start : offset - start + size]
            self._check(piece, checksum, where, offset, key)
            samples += tar.samples_in_run(piece, where, offset, [key])
        return samples

    @staticmethod
    def _check(data: memoryview, checksum: int, where: str, offset: int, key: str) -> None:
        if sample_checksum(data) != checksum:
            raise IntegrityError(
                f"{where} at byte {offset}: sample {key!r} ({len(data)} bytes) does not match the checksum in the "
                "index: the shard is damaged or changed after its index was written (`shardgen verify` lists every "
                "damaged shard)"
            )
