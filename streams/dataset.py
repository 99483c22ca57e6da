"""``EventStream``: a torch ``IterableDataset`` over one or more shard directories, built from the stages.

    stream = EventStream("shards/nmnist", split="train", shuffle=True, seed=0)
    loader = stream.frames(16).batch(32).loader(num_workers=4)
    for epoch in range(10):
        stream.set_epoch(epoch)
        for frames, labels, lengths in loader: ...

The epoch plan (``streams.plan``) gives every rank the same number of samples and batches, and
splits each rank's samples over its DataLoader workers, from the index alone. The order depends only on (seed, epoch, world size, workers).

Epochs and progress live in a small shared-memory tensor of the source (``_Descriptor``), so the
main process reaches DataLoader workers whether they persist or not: ``set_epoch`` and
``load_state_dict`` write it, each worker reads it when it starts an epoch. Without an explicit
``set_epoch`` a copy that iterates again advances its own epoch, so persistent workers reshuffle
too; ``StreamLoader`` (``stream.loader()``) advances the shared epoch itself each pass.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
import webdataset as wds
from torch.utils.data import DataLoader, IterableDataset

from neuroshards.index import DatasetIndex

from . import stages
from .plan import (
    REMAINDERS,
    SHUFFLES,
    PlanError,
    buffer_shuffle,
    build_catalog,
    delivered_per_worker,
    plan_slot,
    read_runs,
    worker_sizes,
    skip_delivered,
)
from .sources import RunReader, ShardStore, verify_run
from neuroshards.tar import samples_in_run

STATE_VERSION = 1


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


class _Descriptor:
    """What the main process tells every copy of the source about the next pass, in shared memory:
    a generation number (bumped on each write), the epoch, and the progress to skip (items, i.e.
    batches or samples, already delivered on this rank, with the batch size and worker count
    that progress was counted with)."""

    FIELDS = ("generation", "epoch", "skip_items", "batch_size", "num_workers", "partial")

    def __init__(self) -> None:
        self.tensor = torch.zeros(len(self.FIELDS), dtype=torch.int64).share_memory_()

    def read(self) -> dict[str, int]:
        return dict(zip(self.FIELDS, self.tensor.tolist()))

    def write(self, epoch: int, skip_items: int = 0, batch_size: int = 1, num_workers: int = 1, partial: bool = True) -> None:
        generation = int(self.tensor[0]) + 1
        self.tensor.copy_(torch.tensor([generation, epoch, skip_items, batch_size, num_workers, int(partial)]))


class ShardSource(IterableDataset):
    """Raw samples (``{"__key__", "__url__", "__epoch__", "events.msgpack", "cls", ...}``) of this rank
    and DataLoader worker, as the epoch plan assigns them."""

    def __init__(
        self,
        stores: Sequence[ShardStore],
        split: str | None,
        *,
        shuffle: str | None,
        seed: int,
        shuffle_buffer: int,
        remainder: str,
        epoch_length: int | None,
        weights: Sequence[float] | None,
        rank: int | None,
        world_size: int | None,
    ):
        if shuffle not in SHUFFLES:
            raise ValueError(f"shuffle must be one of {SHUFFLES} (True means 'shard'), got {shuffle!r}")
        if remainder not in REMAINDERS:
            raise ValueError(f"remainder must be one of {REMAINDERS}, got {remainder!r}")
        self.stores = list(stores)
        self.indexes: list[DatasetIndex] = [store.load_index() for store in self.stores]
        self.catalog = build_catalog(self.indexes, split)
        self.files = self.catalog.files
        self.split, self.seed, self.shuffle, self.shuffle_buffer = split, int(seed), shuffle, int(shuffle_buffer)
        self.remainder, self.epoch_length = remainder, epoch_length
        self.weights = None if weights is None else [float(weight) for weight in weights]
        self._given_rank_world = (rank, world_size)
        self.rank, self.world_size = distributed_rank_world(rank, world_size)
        self.descriptor = _Descriptor()
        # Per copy (each persistent worker has its own): passes made since the descriptor last changed.
        self._seen_generation = 0
        self._passes = 0
        # Main process only: progress of the pass being delivered, for state_dict().
        self._progress = {"epoch": 0, "items": 0, "batch_size": 1, "num_workers": 1, "partial": True, "complete": False}
        self._loader_active = False
        self.worker_sizes(1)  # fails early when the ranks cannot all be fed
        # Compile (or load from numba's cache) the reader's kernels here, once: forked DataLoader
        # workers inherit them instead of each loading them again every epoch.
        samples_in_run(b"", "warm-up", 0, [])
        buffer_shuffle(3, 2, np.random.default_rng(0))

    # The plan -----------------------------------------------------------------------------

    @property
    def n_samples(self) -> int:
        """Samples drawn per epoch over all ranks, before the remainder policy."""
        return self.epoch_length if self.epoch_length is not None else len(self.catalog)

    def worker_sizes(self, num_workers: int) -> np.ndarray:
        """Samples each DataLoader worker of this rank reads per epoch."""
        return worker_sizes(self.n_samples, self.world_size, num_workers, self.remainder)

    def set_epoch(self, epoch: int) -> None:
        self.descriptor.write(int(epoch))

    def _next_pass(self) -> tuple[int, int, int, int, bool]:
        """(epoch, items to skip, their batch size, worker count and partial flag) of the pass starting now."""
        state = self.descriptor.read()
        if state["generation"] != self._seen_generation:
            self._seen_generation, self._passes = state["generation"], 0
        skip = state["skip_items"] if self._passes == 0 else 0
        epoch = state["epoch"] + self._passes
        self._passes += 1
        return epoch, skip, max(state["batch_size"], 1), max(state["num_workers"], 1), bool(state["partial"])

    def __iter__(self) -> Iterator[dict]:
        epoch, skip_items, batch_size, counted_workers, partial = self._next_pass()
        worker, num_workers = dataloader_worker()
        if skip_items and counted_workers != num_workers:
            raise PlanError(
                f"the resume state counts progress over {counted_workers} DataLoader workers, this loader has "
                f"{num_workers}; resume with the same num_workers"
            )
        plan = plan_slot(
            self.catalog,
            seed=self.seed,
            epoch=epoch,
            rank=self.rank,
            world_size=self.world_size,
            worker=worker,
            num_workers=num_workers,
            shuffle=self.shuffle,
            shuffle_buffer=self.shuffle_buffer,
            remainder=self.remainder,
            epoch_length=self.epoch_length,
            weights=self.weights,
        )
        if skip_items:
            delivered = delivered_per_worker(skip_items, self.worker_sizes(num_workers), batch_size, partial)
            plan = skip_delivered(plan, delivered[worker])
        return self._deliver(plan, epoch)

    def _deliver(self, plan, epoch: int) -> Iterator[dict]:
        reader = RunReader(self.stores, self.files)
        pending: dict[int, dict] = {}
        next_position = 0
        try:
            for shard, start, end, positions in read_runs(self.catalog, plan):
                data = reader.read(shard, start, end)
                ids = plan.samples[positions]
                verify_run(data, start, self.catalog, ids, reader.where(shard))
                keys = self.catalog.keys(ids)
                for position, sample in zip(positions.tolist(), samples_in_run(data, reader.where(shard), start, keys)):
                    sample["__epoch__"] = epoch
                    pending[position] = sample
                while next_position in pending:
                    yield pending.pop(next_position)
                    next_position += 1
        finally:
            reader.close()

    # Progress and resume (main process) ------------------------------------------------------

    def begin_pass(self, *, batch_size: int, num_workers: int, partial: bool = True) -> None:
        """Called by the main process when a pass starts (``EventStream`` or ``StreamLoader``)."""
        if (self.rank, self.world_size) != distributed_rank_world(*self._given_rank_world):
            raise PlanError(
                f"this stream was made for rank {self.rank} of {self.world_size}, but torch.distributed now says "
                f"{distributed_rank_world(*self._given_rank_world)}: create the stream after init_process_group "
                "(or pass rank= and world_size=)"
            )
        self.worker_sizes(num_workers)  # a plan error here, not in every worker
        state = self.descriptor.read()
        if state["generation"] == self._progress.get("generation"):
            self.descriptor.write(state["epoch"] + 1)  # no set_epoch since the last pass: the next epoch
            state = self.descriptor.read()
        skip = state["skip_items"]
        if skip and (state["batch_size"], state["num_workers"], bool(state["partial"])) != (batch_size, num_workers, partial):
            raise PlanError(
                f"the resume state counts batches of {state['batch_size']} samples (partial={bool(state['partial'])}) "
                f"over {state['num_workers']} DataLoader workers, this pass has batches of {batch_size} "
                f"(partial={partial}) over {num_workers}; resume with the same batching and num_workers"
            )
        self._progress = {
            "generation": state["generation"],
            "epoch": state["epoch"],
            "items": skip,
            "batch_size": batch_size,
            "num_workers": num_workers,
            "partial": partial,
            "complete": False,
        }

    def count(self, items: Iterator[Any]) -> Iterator[Any]:
        for item in items:
            self._progress["items"] += 1
            yield item
        self._progress["complete"] = True

    def state_dict(self) -> dict[str, Any]:
        """Where the main process stands: the epoch and the items (batches or samples) delivered on
        this rank in it. Every rank delivers the same number of batches, so rank 0's state resumes all."""
        progress = self._progress
        complete = progress["complete"]
        return {
            "version": STATE_VERSION,
            "epoch": progress["epoch"] + complete,
            "items": 0 if complete else progress["items"],
            "batch_size": progress["batch_size"],
            "num_workers": progress["num_workers"],
            "partial": progress["partial"],
            **self._plan_identity(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"resume state version {state.get('version')} is not supported (this reader: {STATE_VERSION})")
        identity = self._plan_identity()
        different = {name: (state.get(name), value) for name, value in identity.items() if state.get(name) != value}
        if different:
            described = ", ".join(f"{name}: saved {saved!r}, now {now!r}" for name, (saved, now) in different.items())
            raise ValueError(f"the resume state belongs to a different epoch plan ({described})")
        partial = bool(state.get("partial", True))
        self.descriptor.write(
            int(state["epoch"]), int(state["items"]), int(state["batch_size"]), int(state["num_workers"]), partial
        )
        # No "generation" in the progress: the next pass takes this epoch as given, as after set_epoch.
        self._progress = {"epoch": int(state["epoch"]), "items": int(state["items"]), "batch_size": int(state["batch_size"]),
                          "num_workers": int(state["num_workers"]), "partial": partial, "complete": False}

    def _plan_identity(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "shuffle": self.shuffle,
            "shuffle_buffer": self.shuffle_buffer,
            "remainder": self.remainder,
            "world_size": self.world_size,
            "n_samples": self.n_samples,
            "epoch_length": self.epoch_length,
            "weights": self.weights,
        }


class EventStream(wds.DataPipeline):
    """Decoded samples ``{"__key__", "events", "label", "sensor_size"}`` of one split of shard directories.

    ``path``: a shard directory, its ``index.json``, an ``http(s)://`` URL of either, or a list of
    them to mix (then ``epoch_length`` is required; ``weights`` per directory, default by size).
    ``shuffle``: ``False``, ``True``/``"shard"`` (shards permuted, then a sliding buffer of
    ``shuffle_buffer`` samples per worker: sequential reads, memory of ``shuffle_buffer`` samples) or
    ``"sample"`` (a full permutation: one seek per sample, no buffer). ``remainder``: ``"pad"``,
    ``"drop"`` or ``"error"`` (see ``streams.plan``). ``epoch_length``: resample that many samples
    per epoch with replacement. ``rank``/``world_size`` default to torch.distributed's when it is
    initialised at construction. ``cache_dir``/``cache_bytes``: keep remote shards locally.
    Chain stages with ``.frames()``, ``.batch()``, ``.map()``, ... or ``.compose(stage)``.
    """

    def __init__(
        self,
        path: str | os.PathLike | Sequence[str | os.PathLike],
        split: str | None = None,
        *,
        shuffle: bool | str = False,
        seed: int = 0,
        shuffle_buffer: int = 256,
        remainder: str = "pad",
        epoch_length: int | None = None,
        weights: Sequence[float] | None = None,
        rank: int | None = None,
        world_size: int | None = None,
        cache_dir: str | os.PathLike | None = None,
        cache_bytes: int = 16 << 30,
        allow_pipe: bool = False,
    ):
        locations = list(path) if isinstance(path, (list, tuple)) else [path]
        if len(locations) > 1 and epoch_length is None:
            raise ValueError("mixing several shard directories draws samples by weight: give epoch_length")
        stores = [ShardStore(location, cache_dir=cache_dir, cache_bytes=cache_bytes, allow_pipe=allow_pipe) for location in locations]
        self.source = ShardSource(
            stores,
            split,
            shuffle={True: "shard", False: None}.get(shuffle, shuffle),  # type: ignore[arg-type]
            seed=seed,
            shuffle_buffer=shuffle_buffer,
            remainder=remainder,
            epoch_length=epoch_length,
            weights=weights,
            rank=rank,
            world_size=world_size,
        )
        self.batch_size = 1  # samples per delivered item; .batch() sets it (and batch_partial) on its copy
        self.batch_partial = True
        super().__init__(self.source, stages.decode())

    @property
    def index(self) -> DatasetIndex:
        return self.source.indexes[0]

    @property
    def sensor_size(self) -> tuple[int, ...]:
        return tuple(self.index.sensor_size)

    @property
    def classes(self) -> list[str]:
        return list(self.index.classes)

    def set_epoch(self, epoch: int) -> None:
        """Order of the next pass; reaches DataLoader workers, persistent or not."""
        self.source.set_epoch(epoch)

    def state_dict(self) -> dict[str, Any]:
        """Progress of the current pass (counted where it is delivered: here, or in ``loader()``)."""
        return self.source.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """The next pass resumes ``state``'s epoch after its delivered items, reading none of them."""
        self.source.load_state_dict(state)

    def __iter__(self) -> Iterator[Any]:
        if torch.utils.data.get_worker_info() is not None or self.source._loader_active:
            return super().__iter__()  # a DataLoader delivers (and counts) what this produces
        self.source.begin_pass(batch_size=self.batch_size, num_workers=1, partial=self.batch_partial)
        return self.source.count(super().__iter__())

    def loader(self, num_workers: int = 0, **dataloader_options: Any) -> "StreamLoader":
        """A DataLoader of this stream (``batch_size=None``: batches are formed in the workers)."""
        return StreamLoader(self, num_workers=num_workers, **dataloader_options)

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
        if frames_number is not None and duration is None and function is None:
            # A .batch() straight after may fuse both stages (see batch()).
            stage.batch_fusion = dict(frames_number=frames_number, split_by=split_by, dtype=dtype)
        return self.compose(stage)

    def batch(self, batch_size: int, *, partial: bool = True, collate: Callable | None = None) -> "EventStream":
        """Pad frames into ``(frames [B, T_max, ...], labels [B], lengths [B])`` (or ``collate``'s result).

        Straight after ``.frames(frames_number)``, with the default collate, both run as one
        stage (``stages.frames_batch``) that counts events directly into the batch: same output,
        without allocating and copying each sample's frames.
        """
        fusion = getattr(self.pipeline[-1], "batch_fusion", None)
        if collate is None and fusion is not None:
            stream = self.compose()
            stream.pipeline[-1] = stages.frames_batch(batch_size, partial=partial, **fusion)
        else:
            stream = self.compose(stages.batch(batch_size, partial, collate or stages.F.pad_sequence_collate))
        stream.batch_size, stream.batch_partial = batch_size, partial
        return stream

    def map(self, function: Callable[[dict], dict]) -> "EventStream":
        return self.compose(stages.map_samples(function))

    def map_events(self, function: Callable[[dict], dict]) -> "EventStream":
        return self.compose(stages.map_events(function))

    def flip_horizontal(self, probability: float = 0.5, *, seed: int = 0) -> "EventStream":
        return self.compose(stages.flip_horizontal(probability, seed))

    def drop_events(self, rate: float = 0.1, *, seed: int = 0) -> "EventStream":
        return self.compose(stages.drop_events(rate, seed))


class StreamLoader(DataLoader):
    """A DataLoader over an ``EventStream`` that counts delivered batches for ``stream.state_dict()``
    and, when ``set_epoch`` was not called since the last pass, moves to the next epoch itself."""

    def __init__(self, stream: EventStream, **options: Any):
        if options.get("batch_size") is not None:
            raise ValueError("batches are formed in the workers: chain .batch(n) on the stream, not batch_size=")
        options["batch_size"] = None
        super().__init__(stream, **options)
        self.stream = stream

    def __iter__(self) -> Iterator[Any]:
        source = self.stream.source
        source.begin_pass(
            batch_size=self.stream.batch_size, num_workers=max(self.num_workers, 1), partial=self.stream.batch_partial
        )
        source._loader_active = True
        try:
            yield from source.count(super().__iter__())
        finally:
            source._loader_active = False
