"""``EventStream``: decoded samples of one split of shard directories, read in the order the epoch
plan gives, through a pipeline of stages; ``StreamLoader``: the DataLoader that delivers it.

    stream = EventStream("shards/nmnist", split="train", shuffle=True, seed=0)
    loader = stream.frames(16).batch(32).loader(num_workers=4)
    for epoch in range(10):
        for batch in loader:            # batch["frames"], batch["label"], batch["lengths"], batch["__key__"]
            ...

Every rank gets the same number of batches; the batches, and their order, depend only on (seed,
epoch, world size, batch size), never on ``num_workers``; each pass over the loader is the next
epoch (or the one given to ``set_epoch``); ``state_dict()``/``load_state_dict()`` resume mid-epoch
with the same batches, even with another world size or worker count. An ``EventStream`` is not a
torch ``Dataset``: read it through ``stream.loader(...)`` (a ``DataLoader``) or iterate it directly;
for ``DataLoader(dataset, batch_size=..., shuffle=True)`` habits use ``streams.ShardDataset``.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
import webdataset as wds
from torch.utils.data import DataLoader, IterableDataset

from neuroshards.errors import PlanError
from neuroshards.index import DatasetIndex
from neuroshards.sources import RemoteOptions, ShardStore

from . import stages
from .plan import SHUFFLES, Catalog, Layout, build_catalog, epoch_sequence, rank_block, resampled_sequence, worker_share
from .reader import SampleReader
from .state import EpochState
from .subset import Subset


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


class PlannedSource(IterableDataset):
    """Raw samples (``{"__key__", "__url__", "__epoch__", "events.msgpack", "cls"}``) that the epoch
    plan gives this rank and DataLoader worker for the pass the main process decided."""

    def __init__(
        self,
        stores: Sequence[ShardStore],
        catalog: Catalog,
        state: EpochState,
        *,
        rank: int,
        world_size: int,
        shuffle: str | None,
        seed: int,
        shuffle_buffer: int,
        shuffle_block: int,
        remainder: str,
        epoch_length: int | None,
        weights: Sequence[float] | None,
        read_ahead: int,
    ):
        self.stores, self.catalog, self.state = list(stores), catalog, state
        self.rank, self.world_size = rank, world_size
        self.shuffle, self.seed, self.remainder = shuffle, seed, remainder
        self.shuffle_buffer, self.shuffle_block = shuffle_buffer, shuffle_block
        self.epoch_length, self.weights, self.read_ahead = epoch_length, weights, read_ahead

    def warm_up(self) -> None:
        """Load the compiled kernels of the plan and of the reader in this process, once, so that
        DataLoader workers forked from it inherit them instead of each loading them every epoch."""
        if self.shuffle == "shard":
            self.sequence(0)
        SampleReader.warm_up()

    def sequence(self, epoch: int) -> np.ndarray:
        """The epoch's sequence of sample ids (over all ranks)."""
        if self.epoch_length is not None:
            return resampled_sequence(self.catalog.set_starts, self.weights, self.epoch_length, seed=self.seed, epoch=epoch)
        return epoch_sequence(
            self.catalog,
            shuffle=self.shuffle,
            seed=self.seed,
            epoch=epoch,
            shuffle_buffer=self.shuffle_buffer,
            shuffle_block=self.shuffle_block,
        )

    def __iter__(self) -> Iterator[dict]:
        worker, num_workers = dataloader_worker()
        current = self.state.shared_pass(self.world_size, num_workers, self.remainder)
        positions = worker_share(rank_block(current.remaining, current.layout, self.rank), current.layout, worker)
        ids = self.sequence(current.epoch)[positions]
        for sample in SampleReader(self.stores, self.catalog).read(ids, self.read_ahead):
            sample["__epoch__"] = current.epoch
            yield sample


class EventStream(IterableDataset):
    """Decoded samples ``{"__key__", "events", "label", "sensor_size", ...}`` of one split of shard
    directories, in epoch-plan order.

    ``path``: a shard directory, its ``index.json``, an ``http(s)://`` URL of either, or a list of
    them to mix (then ``epoch_length`` is required; ``weights`` per directory, default by size).
    ``split``: required where the index has several splits (``"all"``: every split).
    ``subset``: a ``streams.Subset`` of the split, taken before the plan divides samples among ranks.
    ``shuffle``: ``False``; ``True`` or ``"block"`` (a fresh permutation every epoch: shards
    permuted, grouped into blocks of ``shuffle_block`` samples, samples permuted within each block;
    one block, a uniform permutation, for splits of up to ``shuffle_block`` samples); ``"sample"``
    (a uniform permutation whatever the size); ``"shard"`` (shards permuted, then a sliding buffer
    of ``shuffle_buffer`` samples: fewest seeks, weak mixing where shards are sorted by class). With
    remote shards, ``"block"`` and a ``cache_dir`` fetch each shard of a rank's blocks once.
    ``remainder``: ``"pad"``, ``"drop"`` or
    ``"error"`` (see ``streams.plan``). ``epoch_length``: resample that many samples per epoch with
    replacement. ``rank``/``world_size`` default to torch.distributed's when it is initialised at
    construction. ``cache_dir``/``cache_bytes``: keep remote shards locally. ``remote``: timeouts and
    retries of remote reads (``neuroshards.sources.RemoteOptions``; default from the
    ``NEUROSHARDS_*`` environment variables). ``read_ahead``: samples
    a worker reads ahead (in storage order) and holds.
    Chain stages with ``.frames()``, ``.batch()``, ``.map()``, ... or ``.compose(stage)``.
    """

    def __init__(
        self,
        path: str | os.PathLike | Sequence[str | os.PathLike],
        split: str | None = None,
        *,
        subset: Subset | None = None,
        shuffle: bool | str | None = False,
        seed: int = 0,
        shuffle_buffer: int = 1024,
        shuffle_block: int = 1 << 16,
        remainder: str = "pad",
        epoch_length: int | None = None,
        weights: Sequence[float] | None = None,
        rank: int | None = None,
        world_size: int | None = None,
        cache_dir: str | os.PathLike | None = None,
        cache_bytes: int = 16 << 30,
        allow_pipe: bool = False,
        remote: RemoteOptions | None = None,
        read_ahead: int = 64,
    ):
        shuffle = {True: "block", False: None}.get(shuffle, shuffle)  # type: ignore[arg-type]
        if shuffle not in SHUFFLES:
            raise ValueError(f"shuffle must be True, False or one of {SHUFFLES}, got {shuffle!r}")
        Layout(remainder=remainder)  # checks the policy's name now
        locations: list[str | os.PathLike] = list(path) if isinstance(path, (list, tuple)) else [path]  # type: ignore[list-item]
        if len(locations) > 1 and epoch_length is None:
            raise ValueError("mixing several shard directories draws samples by weight: give epoch_length")
        if weights is not None and epoch_length is None:
            raise ValueError("weights mix shard directories by resampling: give epoch_length too")
        stores = [
            ShardStore(location, cache_dir=cache_dir, cache_bytes=cache_bytes, allow_pipe=allow_pipe, remote=remote)
            for location in locations
        ]
        self.indexes: list[DatasetIndex] = [store.load_index() for store in stores]
        catalog = build_catalog(self.indexes, split, subset)
        if not len(catalog):
            raise PlanError(f"{stores[0]}: split {split!r}{f' with {subset!r}' if subset else ''} holds no samples")
        self._given_rank_world = (rank, world_size)
        self.rank, self.world_size = distributed_rank_world(rank, world_size)
        n_samples = epoch_length if epoch_length is not None else len(catalog)
        self._state = EpochState(n_samples)
        self._source = PlannedSource(
            stores,
            catalog,
            self._state,
            rank=self.rank,
            world_size=self.world_size,
            shuffle=shuffle,
            seed=int(seed),
            shuffle_buffer=int(shuffle_buffer),
            shuffle_block=int(shuffle_block),
            remainder=remainder,
            epoch_length=epoch_length,
            weights=None if weights is None else [float(weight) for weight in weights],
            read_ahead=int(read_ahead),
        )
        self._stages: list[Callable] = [stages.decode()]
        self._batch: stages.Batch | None = None
        self._layout()  # a plan error (too few samples, no batch at all) now, not in every worker

    # What it reads --------------------------------------------------------------------------

    @property
    def index(self) -> DatasetIndex:
        return self.indexes[0]

    @property
    def catalog(self) -> Catalog:
        return self._source.catalog

    @property
    def sensor_size(self) -> tuple[int, ...]:
        return tuple(self.index.sensor_size)

    @property
    def classes(self) -> list[str]:
        return list(self.index.classes)

    def _layout(self, num_workers: int = 1) -> Layout:
        batch = self._batch
        layout = Layout(
            self.world_size,
            num_workers,
            batch.batch_size if batch else 1,
            not batch.partial if batch else False,
            self._source.remainder,
        )
        if layout.batches(layout.per_rank(self._state.n_samples)) == 0:
            if layout.drop_last:
                advice = (
                    f"make no batch of {layout.batch_size} with partial=False: use a smaller batch, partial=True, or fewer ranks"
                )
            else:  # "drop" left every rank without a sample
                advice = f"leave no sample to each rank with remainder={layout.remainder!r}: use fewer ranks or remainder='pad'"
            raise PlanError(f"{self._state.n_samples} samples over {self.world_size} ranks {advice}")
        return layout

    def __len__(self) -> int:
        """Items (batches after ``.batch()``, else samples) this rank delivers in a whole epoch."""
        layout = self._layout()
        return layout.batches(layout.per_rank(self._state.n_samples))

    # Epochs and resume ------------------------------------------------------------------------

    def set_epoch(self, epoch: int) -> None:
        """The epoch of the next pass (without it, each pass is the epoch after the previous one)."""
        self._state.set_epoch(epoch)

    def state_dict(self) -> dict[str, Any]:
        """Where this rank stands: the epoch and the positions of it no rank has delivered yet.
        Every rank delivers the same batches in step, so rank 0's state resumes all of them."""
        return {**self._state.state_dict(), **self._identity()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """The next pass continues ``state``'s epoch with what was not delivered (any world size,
        worker count or batch size)."""
        different = {name: (state.get(name), value) for name, value in self._identity().items() if state.get(name) != value}
        if different:
            described = ", ".join(f"{name}: saved {saved!r}, now {now!r}" for name, (saved, now) in different.items())
            raise PlanError(f"the resume state belongs to a different epoch plan ({described})")
        self._state.load_state_dict(state)

    def _identity(self) -> dict[str, Any]:
        source = self._source
        return {
            "seed": source.seed,
            "shuffle": source.shuffle,
            "shuffle_buffer": source.shuffle_buffer,
            "shuffle_block": source.shuffle_block,
            "epoch_length": source.epoch_length,
            "weights": source.weights,
        }

    def _begin_pass(self, num_workers: int) -> None:
        if (self.rank, self.world_size) != distributed_rank_world(*self._given_rank_world):
            raise PlanError(
                f"this stream was made for rank {self.rank} of {self.world_size}, but torch.distributed now says "
                f"{distributed_rank_world(*self._given_rank_world)}: create the stream after init_process_group "
                "(or pass rank= and world_size=)"
            )
        self._state.begin_pass(self._layout(num_workers))

    def _pipeline(self) -> wds.DataPipeline:
        return wds.DataPipeline(self._source, *self._stages)

    def __iter__(self) -> Iterator[Any]:
        """One pass read in this process (as a DataLoader without workers would)."""
        if torch.utils.data.get_worker_info() is not None:
            raise PlanError(
                "an EventStream inside a plain DataLoader's workers cannot agree on the epoch or count progress: "
                "use stream.loader(num_workers=...), a DataLoader that does both"
            )
        self._begin_pass(1)
        for item in self._pipeline():
            self._state.delivered()
            yield item

    def loader(self, num_workers: int = 0, **dataloader_options: Any) -> StreamLoader:
        """The DataLoader of this stream: batches are formed in its workers (no ``batch_size=``)."""
        return StreamLoader(self, num_workers=num_workers, **dataloader_options)

    # Stages: each returns a new stream with the stage appended -----------------------------------

    def compose(self, *added: Callable) -> EventStream:
        """A new stream (sharing this one's source and epoch state) with ``added`` stages appended.
        A ``stages.batch`` stage sets the batch size the plan hands to workers (one per stream)."""
        stream = copy.copy(self)
        stream._stages = list(self._stages)
        for stage in added:
            if isinstance(stage, stages.Batch):
                if stream._batch is not None:
                    raise ValueError("a stream batches once: it already has a batch() stage")
                stream._batch = stage
                stream._layout()  # an epoch without a batch is an error now
                previous = stream._stages[-1]
                fused = previous.fused_with(stage) if isinstance(previous, stages.Frames) else None
                if fused is not None:
                    stream._stages[-1] = fused
                    continue
            stream._stages.append(stage)
        return stream

    def frames(
        self,
        frames_number: int | None = None,
        split_by: str = "number",
        *,
        duration: int | None = None,
        function: Callable[[dict, int, int], np.ndarray] | None = None,
        dtype: Any = np.float32,
    ) -> EventStream:
        return self.compose(stages.Frames(frames_number, split_by, duration, function, dtype))

    def batch(self, batch_size: int, *, partial: bool = True, collate: Callable | None = None) -> EventStream:
        """Groups of ``batch_size`` samples: by default ``{"frames" [B, T_max, ...], "label" [B],
        "lengths" [B], "__key__": [...], ...}`` (every field kept); ``collate`` receives the list of
        whole samples. The last, shorter batch is kept unless ``partial=False``."""
        return self.compose(stages.Batch(batch_size, partial, collate))

    def map(self, function: Callable[[dict], dict]) -> EventStream:
        return self.compose(stages.map_samples(function))

    def map_events(self, function: Callable[[dict], dict]) -> EventStream:
        return self.compose(stages.map_events(function))

    def transform(self, transform: Callable, *, seed: int = 0) -> EventStream:
        """Apply a ``streams.transforms`` transform (Tonic's, or any ``events -> events`` callable)
        to each sample, its random draws from ``(seed, epoch, key)``; a representation
        (``ToFrame``, ``ToVoxelGrid``, ...) stores its result as ``"frames"`` for ``batch()``."""
        from .transforms.stage import apply_transform  # the transforms load their kernels on first use

        return self.compose(apply_transform(transform, seed))

    def flip_horizontal(self, probability: float = 0.5, *, seed: int = 0) -> EventStream:
        return self.compose(stages.flip_horizontal(probability, seed))

    def drop_events(self, rate: float = 0.1, *, seed: int = 0) -> EventStream:
        return self.compose(stages.drop_events(rate, seed))


class StreamLoader(DataLoader):
    """A DataLoader over an ``EventStream``: each pass decides its epoch (the next, or the one set),
    and delivered batches are counted for ``state_dict()``."""

    def __init__(self, stream: EventStream, **options: Any):
        if options.get("batch_size") is not None:
            raise ValueError("batches are formed in the workers: chain .batch(n) on the stream, not batch_size=")
        for option in ("shuffle", "sampler", "batch_sampler"):
            if options.get(option):
                raise ValueError(f"{option}= does not apply: the stream's plan orders the samples (EventStream(shuffle=...))")
        if options.get("in_order") is False:
            raise ValueError(
                "in_order=False would deliver batches in the order workers finish them: the epoch would "
                "depend on timing and could not be resumed exactly"
            )
        options["batch_size"] = None
        super().__init__(stream._pipeline(), **options)
        self.stream = stream
        stream._source.warm_up()

    def __len__(self) -> int:
        return len(self.stream)

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]  # the DataLoader's items, counted
        self.stream._begin_pass(max(self.num_workers, 1))
        for item in super().__iter__():
            self.stream._state.delivered()
            yield item

    def set_epoch(self, epoch: int) -> None:
        self.stream.set_epoch(epoch)

    def state_dict(self) -> dict[str, Any]:
        return self.stream.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.stream.load_state_dict(state)
