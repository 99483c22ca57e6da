"""``ShardDataset``: random access to the samples of one split, by one positioned read each.

    ds = ShardDataset("shards/dvs128gesture", split="train", transform=to_frames)
    loader = DataLoader(ds, batch_size=16, shuffle=True, num_workers=4)          # or DistributedSampler

The index locates every sample (shard, byte offset, size, checksum), so ``ds[i]`` reads exactly
its bytes, checks them and decodes them. Sample ``i`` is the i-th sample of the split (narrowed by
``subset``) in storage order.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from neuroshards.index import DatasetIndex
from neuroshards.sources import RemoteOptions, ShardStore

from .plan import Catalog, build_catalog
from .reader import SampleReader
from .stages import decode_sample
from .subset import Subset


class ShardDataset(Dataset):
    """A map-style dataset over one shard directory (local path or URL): ``len(ds)`` samples,
    ``ds[i]`` the decoded sample ``{"__key__", "events", "label", "sensor_size", ...}``, or
    ``transform(sample)`` when a ``transform`` is given."""

    def __init__(
        self,
        path: str | os.PathLike,
        split: str | None = None,
        *,
        subset: Subset | None = None,
        transform: Callable[[dict], Any] | None = None,
        cache_dir: str | os.PathLike | None = None,
        cache_bytes: int = 16 << 30,
        remote: RemoteOptions | None = None,
    ):
        self.store = ShardStore(path, cache_dir=cache_dir, cache_bytes=cache_bytes, remote=remote)
        self.index: DatasetIndex = self.store.load_index()
        self.split = self.index.resolve_split(split)
        self.catalog: Catalog = build_catalog([self.index], self.split, subset)
        self.transform = transform
        self._reader: SampleReader | None = None
        self._reader_pid = -1

    def __len__(self) -> int:
        return len(self.catalog)

    @property
    def keys(self) -> list[str]:
        return self.catalog.keys(np.arange(len(self.catalog)))

    @property
    def labels(self) -> np.ndarray:
        return np.asarray(self.catalog.label)

    @property
    def sensor_size(self) -> tuple[int, ...]:
        return tuple(self.index.sensor_size)

    @property
    def classes(self) -> list[str]:
        return list(self.index.classes)

    def raw(self, item: int) -> dict:
        """Sample ``item``'s tar members (bytes), checked against the index."""
        if not -len(self) <= item < len(self):
            raise IndexError(f"sample {item} of a dataset of {len(self)}")
        if self._reader is None or self._reader_pid != os.getpid():  # one per DataLoader worker
            self._reader, self._reader_pid = SampleReader([self.store], self.catalog), os.getpid()
        return self._reader.read_one(int(item) % len(self))

    def __getitem__(self, item: int) -> Any:
        sample = decode_sample(self.raw(item))
        return self.transform(sample) if self.transform is not None else sample

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_reader": None, "_reader_pid": -1}
