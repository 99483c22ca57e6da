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
        if self.verify:
            # Python ints, fetched once per run: the per-sample loop is most of the checks' cost.
            offsets, sizes, expected = (column[ids].tolist() for column in (catalog.offset, catalog.size, catalog.checksum))
            for position, (offset, size, checksum) in enumerate(zip(offsets, sizes, expected)):
                if sample_checksum(data[offset - start : offset - start + size]) != checksum:
                    raise IntegrityError(
                        f"{where} at byte {offset}: sample {catalog.keys(ids[position : position + 1])[0]!r} ({size} "
                        "bytes) does not match the checksum in the index: the shard is damaged or changed after its "
                        "index was written (`shardgen verify` lists every damaged shard)"
                    )
        return tar.samples_in_run(data, where, start, catalog.keys(ids))
