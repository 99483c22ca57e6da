"""``EventStream``: a torch ``IterableDataset`` over a shard directory, built from the stages.

    stream = EventStream("shards/nmnist", split="train", shuffle=True, seed=0)
    loader = DataLoader(stream.frames(frames_number=16).batch(32), batch_size=None, num_workers=4)

Shards are assigned to (rank, DataLoader worker) pairs from the index, so each sample is read
once per epoch across all ranks and workers; the order depends only on (seed, epoch).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
import webdataset as wds
from torch.utils.data import IterableDataset

from shardgen.index import DatasetIndex, ShardInfo, load_index, resolve_index_path

from . import stages
from .tario import ShardError, iter_samples


def distributed_rank_world(rank: int | None = None, world_size: int | None = None) -> tuple[int, int]:
    """Explicit arguments win; else torch.distributed when initialised; else a single process."""
    if rank is None or world_size is None:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            rank = torch.distributed.get_rank() if rank is None else rank
            world_size = torch.distributed.get_world_size() if world_size is None else world_size
        else:
            rank, world_size = rank or 0, world_size or 1
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is outside world size {world_size}")
    return rank, world_size


def dataloader_worker() -> tuple[int, int]:
    info = torch.utils.data.get_worker_info()
    return (info.id, info.num_workers) if info is not None else (0, 1)


class ShardSource(IterableDataset):
    """Raw samples (``{"__key__", "events.msgpack", "cls", ...}``) of this rank and worker."""

    def __init__(
        self,
        index: DatasetIndex,
        root: Path,
        split: str | None,
        *,
        shuffle: bool,
        seed: int,
        shuffle_buffer: int,
        rank: int | None,
        world_size: int | None,
    ):
        self.index, self.root, self.split = index, root, split
        self.shards: list[ShardInfo] = index.shards_of(split)
        self.shuffle, self.seed, self.shuffle_buffer = shuffle, seed, shuffle_buffer
        self.rank, self.world_size = rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def my_shards(self) -> list[ShardInfo]:
        rank, world = distributed_rank_world(self.rank, self.world_size)
        worker, workers = dataloader_worker()
        order = np.arange(len(self.shards))
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(order)
        slots = world * workers
        if len(order) < slots:
            raise ValueError(
                f"{len(order)} shards cannot feed {world} ranks x {workers} DataLoader workers; "
                "convert with a smaller --max-samples or use fewer workers"
            )
        return [self.shards[i] for i in order[rank * workers + worker :: slots]]

    def __iter__(self) -> Iterator[dict]:
        samples = self._read(self.my_shards())
        if self.shuffle and self.shuffle_buffer > 1:
            rank, _ = distributed_rank_world(self.rank, self.world_size)
            worker, _ = dataloader_worker()
            samples = _buffer_shuffle(samples, self.shuffle_buffer, np.random.default_rng([self.seed, self.epoch, rank, worker]))
        return samples

    def _read(self, shards: list[ShardInfo]) -> Iterator[dict]:
        for shard in shards:
            path = self.root / shard.path
            try:
                handle = open(path, "rb", buffering=1 << 20)
            except OSError as error:
                raise ShardError(f"{path}: cannot open shard ({error.strerror})") from None
            with handle:
                for sample in iter_samples(handle, str(path)):
                    sample["__epoch__"] = self.epoch
                    yield sample


def _buffer_shuffle(samples: Iterator[dict], size: int, rng: np.random.Generator) -> Iterator[dict]:
    buffer: list[dict] = []
    for sample in samples:
        if len(buffer) < size:
            buffer.append(sample)
            continue
        slot = int(rng.integers(size))
        buffer[slot], sample = sample, buffer[slot]
        yield sample
    rng.shuffle(buffer)
    yield from buffer


class EventStream(wds.DataPipeline):
    """Decoded samples ``{"__key__", "events", "label", "sensor_size"}`` of one split of a shard directory.

    ``path``: the directory or its ``index.json``. ``rank``/``world_size`` default to
    torch.distributed's when it is initialised. Chain stages with ``.frames()``, ``.batch()``,
    ``.map()``, ... or ``.compose(stage)`` for a stage of your own.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        split: str | None = None,
        *,
        shuffle: bool = False,
        seed: int = 0,
        shuffle_buffer: int = 256,
        rank: int | None = None,
        world_size: int | None = None,
    ):
        index_path = resolve_index_path(path)
        index = load_index(index_path)
        self.source = ShardSource(
            index,
            index_path.parent,
            split,
            shuffle=shuffle,
            seed=seed,
            shuffle_buffer=shuffle_buffer,
            rank=rank,
            world_size=world_size,
        )
        super().__init__(self.source, stages.decode())

    @property
    def index(self) -> DatasetIndex:
        return self.source.index

    @property
    def sensor_size(self) -> tuple[int, ...]:
        return tuple(self.index.sensor_size)

    @property
    def classes(self) -> list[str]:
        return list(self.index.classes)

    def set_epoch(self, epoch: int) -> None:
        self.source.set_epoch(epoch)

    # Fluent stages: each returns a new stream with the stage appended -------------------------

    def frames(
        self,
        frames_number: int | None = None,
        split_by: str = "number",
        *,
        duration: int | None = None,
        function: Callable[[dict, int, int], np.ndarray] | None = None,
        dtype: Any = np.float32,
    ) -> "EventStream":
        stage = stages.frames(frames_number, split_by, duration, function, dtype)
        stream = self.compose(stage)
        if frames_number is not None and duration is None and function is None:
            # A .batch() straight after may fuse both stages (see batch()).
            stream._fusable_frames = (stage, self, dict(frames_number=frames_number, split_by=split_by, dtype=dtype))
        return stream

    def batch(self, batch_size: int, *, partial: bool = True, collate: Callable | None = None) -> "EventStream":
        """Pad frames into ``(frames [B, T_max, ...], labels [B], lengths [B])`` (or ``collate``'s result).

        Straight after ``.frames(frames_number)``, with the default collate, both run as one
        stage (``stages.frames_batch``) that counts events directly into the batch: same output,
        without allocating and copying each sample's frames.
        """
        fusable = getattr(self, "_fusable_frames", None)
        if collate is None and fusable is not None and self.pipeline[-1] is fusable[0]:
            _, before_frames, options = fusable
            return before_frames.compose(stages.frames_batch(batch_size, partial=partial, **options))
        return self.compose(stages.batch(batch_size, partial, collate or stages.F.pad_sequence_collate))

    def map(self, function: Callable[[dict], dict]) -> "EventStream":
        return self.compose(stages.map_samples(function))

    def map_events(self, function: Callable[[dict], dict]) -> "EventStream":
        return self.compose(stages.map_events(function))

    def flip_horizontal(self, probability: float = 0.5, *, seed: int = 0) -> "EventStream":
        return self.compose(stages.flip_horizontal(probability, seed))

    def drop_events(self, rate: float = 0.1, *, seed: int = 0) -> "EventStream":
        return self.compose(stages.drop_events(rate, seed))
