"""The epoch plan: which samples each (rank, DataLoader worker) reads, in which order, from the index.

Everything here is a pure function of explicit arguments (seed, epoch, rank, world size, worker,
number of workers, batch size, the catalog): the same arguments give the same plan on any
machine, and a resume is arithmetic on the plan, never a re-read.

One epoch:

1. the *sequence* ``S``: the catalog's samples (a split, narrowed by a subset) in storage order
   (``shuffle=None``); or a fresh permutation of them every epoch: ``"block"`` (what
   ``shuffle=True`` means) permutes the shards, groups them into blocks of at least
   ``shuffle_block`` samples and permutes the samples of each block (the whole split when it is
   smaller than a block), so a rank reads the shards of a few blocks per epoch rather than of all;
   ``"sample"`` permutes the whole split uniformly whatever its size; ``"shard"`` keeps each
   shard's order and mixes through a sliding buffer of ``shuffle_buffer`` samples (cheapest to
   read, weakest mixing where shards are sorted by class); or, in resampling mode,
   ``epoch_length`` draws with replacement;
2. what is left of it to read, as *positions* into ``S``: all of it, or the rest after a resume;
3. the *remainder policy* makes that a multiple of the world size: ``"pad"`` repeats its first
   positions cyclically, ``"drop"`` cuts its last ones, ``"error"`` refuses;
4. rank ``r`` takes the contiguous block ``r`` of ``n`` positions, so every rank gets exactly ``n``
   samples and makes the same number of batches;
5. the block is cut into batches of ``batch_size`` (the last one shorter, or dropped with
   ``drop_last``); batch ``b`` goes to DataLoader worker ``b % num_workers``. A DataLoader takes
   batches from its workers round-robin, so it delivers batches ``0, 1, 2, ...`` in order: the
   batches, and their order, do not depend on the number of workers.

Progress is counted in batches per rank. After ``k`` batches every rank has consumed the first
``k * batch_size`` positions of its block; the rest of the epoch is the concatenation of the
blocks' tails, which any number of ranks can share out again (elastic resume). Resumed with the
same world size, every rank gets exactly its own tail: the batches that the uninterrupted run
would have delivered, in the same order.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from neuroshards.errors import IndexFileError, PlanError
from neuroshards.index import DatasetIndex

SHUFFLES = (None, "block", "sample", "shard")
REMAINDERS = ("pad", "drop", "error")


@dataclass(frozen=True)
class Catalog:
    """The samples a stream reads: the rows of a split (narrowed by a subset) of one or more
    indexes (shard sets).

    ``files[j]``: ``(set number, path, bytes, sha256)`` of shard ``j``; per sample ``i``: its ``key``,
    ``label``, ``shard`` (into ``files``), the ``offset``/``size`` of its tar members in the shard and
    their ``checksum``. Samples of a shard are consecutive, in storage order; ``shard_starts[j]``
    is the first sample of shard ``j`` (plus a final total), ``set_starts`` likewise per set.
    """

    files: list[tuple[int, str, int, str]]
    key: np.ndarray
    label: np.ndarray
    shard: np.ndarray
    offset: np.ndarray
    size: np.ndarray
    checksum: np.ndarray
    shard_starts: np.ndarray
    set_starts: np.ndarray
    sources: tuple[str, ...] = ()  # each set's index (file or URL), for messages

    def __len__(self) -> int:
        return len(self.key)

    def keys(self, ids: np.ndarray) -> list[str]:
        try:
            return [key.decode("utf-8") for key in self.key[ids].tolist()]
        except UnicodeDecodeError:
            sample = int(np.asarray(ids).reshape(-1)[0]) if np.size(ids) else 0
            number, path = self.files[self.shard[sample]][:2]
            where = self.sources[number] if number < len(self.sources) else path
            raise IndexFileError(
                f"{where}: a sample key (of shard {path}) is not UTF-8 text; the index is damaged: "
                "rebuild it with `shardgen reindex`"
            ) from None


def build_catalog(indexes: Sequence[DatasetIndex], split: str | None, subset=None) -> Catalog:
    """The catalog of ``split`` over ``indexes`` (one shard set each), narrowed by ``subset``
    (a ``streams.Subset``) before anything is divided among ranks and workers."""
    files: list[tuple[int, str, int, str]] = []
    parts: dict[str, list[np.ndarray]] = {name: [] for name in ("key", "label", "shard", "offset", "size", "checksum")}
    set_starts = [0]
    if not indexes:
        raise PlanError("no shard directory given")
    width = max((index.samples.key.dtype.itemsize for index in indexes), default=1)
    for number, index in enumerate(indexes):
        rows = index.rows(split)
        if subset is not None:
            rows = subset.select(index, rows)
        chosen = np.unique(index.samples.shard[rows]) if len(rows) else np.zeros(0, np.int64)
        renumber = np.full(len(index.shards), -1, dtype=np.int32)
        renumber[chosen] = np.arange(len(files), len(files) + len(chosen), dtype=np.int32)
        files.extend((number, index.shards[j].path, index.shards[j].bytes, index.shards[j].sha256) for j in chosen.tolist())
        # Consecutive rows (a whole split, as the writer groups them) are a view of the memory map,
        # not a copy: a process holds only the pages it reads.
        chosen_rows = slice(int(rows[0]), int(rows[-1]) + 1) if len(rows) and rows[-1] - rows[0] + 1 == len(rows) else rows
        for name in parts:
            column = getattr(index.samples, name)[chosen_rows]
            parts[name].append(column.astype(f"S{width}", copy=False) if name == "key" else column)
        parts["shard"][-1] = renumber[parts["shard"][-1]]
        set_starts.append(set_starts[-1] + len(rows))
    if subset is not None:
        subset.check_found(set_starts[-1])
    columns = {name: (values[0] if len(values) == 1 else np.concatenate(values)) for name, values in parts.items()}
    _check_byte_ranges(files, columns, indexes)
    counts = np.bincount(columns["shard"], minlength=len(files)) if len(files) else np.zeros(0, np.int64)
    shard_starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return Catalog(
        files=files,
        **columns,
        shard_starts=shard_starts,
        set_starts=np.asarray(set_starts, dtype=np.int64),
        sources=tuple(index.source for index in indexes),
    )


def _check_byte_ranges(files: list, columns: dict[str, np.ndarray], indexes: Sequence[DatasetIndex]) -> None:
    """Every sample's bytes lie inside its shard (a damaged index must not send a read anywhere else)."""
    if not files:
        return
    shard_bytes = np.array([size for _set, _path, size, _sha in files], dtype=np.int64)
    offset, size = columns["offset"], columns["size"]
    bad = np.flatnonzero((offset < 0) | (size <= 0) | (offset > shard_bytes[columns["shard"]] - size))
    if len(bad):
        number, path, total, _sha = files[columns["shard"][bad[0]]]
        raise IndexFileError(
            f"{indexes[number].source}: sample {int(bad[0])} of the split lies at bytes {int(offset[bad[0]])} + "
            f"{int(size[bad[0]])}, outside its shard {path} of {total} bytes ({len(bad)} such samples); the index is "
            "damaged: rebuild it with `shardgen reindex`"
        )


def epoch_rng(seed: int, epoch: int, *stream: int) -> np.random.Generator:
    """The generator of one (seed, epoch[, stream]) pair: PCG64 seeded by the tuple, machine-independent."""
    return np.random.default_rng([int(seed), int(epoch), *map(int, stream)])


# 1. The sequence ------------------------------------------------------------------------------


def epoch_sequence(
    catalog: Catalog,
    *,
    shuffle: str | None,
    seed: int,
    epoch: int,
    shuffle_buffer: int = 1024,
    shuffle_block: int = 1 << 16,
) -> np.ndarray:
    """All sample ids of one epoch, before the ranks divide them (see the module docstring)."""
    if shuffle not in SHUFFLES:
        raise PlanError(f"shuffle must be one of {SHUFFLES}, got {shuffle!r}")
    total = len(catalog)
    if shuffle is None:
        return np.arange(total, dtype=np.int64)
    rng = epoch_rng(seed, epoch)
    if shuffle == "sample":
        return rng.permutation(total).astype(np.int64)
    starts = catalog.shard_starts
    order = rng.permutation(len(starts) - 1)
    sizes = np.diff(starts)[order]
    by_shard = np.concatenate([np.arange(starts[j], starts[j + 1], dtype=np.int64) for j in order] or [np.zeros(0, np.int64)])
    if shuffle == "shard":
        return by_shard[buffer_shuffle(total, shuffle_buffer, rng)]
    if shuffle_block < 1:
        raise PlanError(f"shuffle_block must be positive, got {shuffle_block}")
    # Blocks start at shard boundaries: a shard's samples share the block where the shard begins.
    block_of_shard = (np.cumsum(sizes) - sizes) // shuffle_block
    block = np.repeat(block_of_shard, sizes)
    return by_shard[np.lexsort((rng.random(total), block))]


def resampled_sequence(
    set_starts: np.ndarray, weights: Sequence[float] | None, length: int, *, seed: int, epoch: int
) -> np.ndarray:
    """``length`` draws with replacement: a shard set by ``weights`` (default: by size), then a sample
    of it uniformly."""
    sizes = np.diff(set_starts).astype(np.float64)
    if length < 1:
        raise PlanError(f"epoch_length must be positive, got {length}")
    chances = sizes if weights is None else np.asarray(weights, dtype=np.float64)
    if chances.shape != sizes.shape or np.any(chances < 0) or not np.isfinite(chances).all() or chances.sum() <= 0:
        raise PlanError(f"weights must be {len(sizes)} non-negative numbers, not all zero; got {chances.tolist()}")
    if np.any((chances > 0) & (sizes == 0)):
        raise PlanError("a shard set with a positive weight holds no samples")
    rng = epoch_rng(seed, epoch)
    chosen = rng.choice(len(sizes), size=length, p=chances / chances.sum())
    within = np.floor(rng.random(length) * sizes[chosen]).astype(np.int64)
    return set_starts[chosen] + within


def _sliding_buffer(n: int, buffer: int, draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Positions 0..n-1 pass through a buffer: once it is full, each new position replaces the
    # content of a random buffer slot, which is emitted. Returns (emitted, left in the buffer).
    out = np.empty(max(n - buffer, 0), dtype=np.int64)
    held = np.arange(min(buffer, n))
    for position in range(buffer, n):
        slot = draws[position - buffer]
        out[position - buffer] = held[slot]
        held[slot] = position
    return out, held


@functools.cache
def _compiled_sliding_buffer():
    import numba  # compiled on first use: importing numba costs every process a quarter second

    return numba.njit(cache=True)(_sliding_buffer)


def buffer_shuffle(n: int, buffer: int, rng: np.random.Generator) -> np.ndarray:
    """Delivery order of ``n`` sequentially read items through a sliding shuffle buffer of
    ``buffer`` items: ``result[j]`` is the read position delivered j-th. The j-th delivery needs at
    most ``j + buffer`` reads, so a reader holds at most ``buffer`` items."""
    if buffer <= 1 or n <= 1:
        return np.arange(n, dtype=np.int64)
    emitted, held = _compiled_sliding_buffer()(n, buffer, rng.integers(0, buffer, size=max(n - buffer, 0)))
    return np.concatenate([emitted, rng.permutation(held)])


# 2-5. Positions, ranks, batches, workers ---------------------------------------------------------


def _refuse_uneven(count: int, world_size: int) -> None:
    raise PlanError(
        f"{count} samples do not split evenly over {world_size} ranks ({count % world_size} left over); "
        "choose remainder='pad' or 'drop'"
    )


def fit_to_ranks(positions: np.ndarray, world_size: int, remainder: str) -> np.ndarray:
    """``positions`` made a multiple of ``world_size`` by the remainder policy."""
    if remainder not in REMAINDERS:
        raise PlanError(f"remainder must be one of {REMAINDERS}, got {remainder!r}")
    left = len(positions) % world_size
    if not left:
        return positions
    if remainder == "error":
        _refuse_uneven(len(positions), world_size)
    if remainder == "drop":
        return positions[: len(positions) - left]
    if not len(positions):
        return positions
    return np.resize(positions, len(positions) + world_size - left)  # repeats from the start, cyclically


@dataclass(frozen=True)
class Layout:
    """How one epoch is read: ranks, DataLoader workers and batching."""

    world_size: int = 1
    num_workers: int = 1
    batch_size: int = 1
    drop_last: bool = False
    remainder: str = "pad"

    def __post_init__(self) -> None:
        if self.world_size < 1 or self.num_workers < 1 or self.batch_size < 1:
            raise PlanError(f"world size, workers and batch size must be positive: {self}")
        if self.remainder not in REMAINDERS:
            raise PlanError(f"remainder must be one of {REMAINDERS}, got {self.remainder!r}")

    def per_rank(self, remaining: int) -> int:
        """Samples each rank reads of ``remaining`` positions."""
        if self.remainder == "pad":
            return -(-remaining // self.world_size)
        if self.remainder == "error" and remaining % self.world_size:
            _refuse_uneven(remaining, self.world_size)
        return remaining // self.world_size

    def batches(self, per_rank: int) -> int:
        """Batches each rank delivers from ``per_rank`` samples."""
        return per_rank // self.batch_size if self.drop_last else -(-per_rank // self.batch_size)


def rank_block(positions: np.ndarray, layout: Layout, rank: int) -> np.ndarray:
    """The positions rank ``rank`` reads, in delivery order."""
    if not 0 <= rank < layout.world_size:
        raise PlanError(f"rank {rank} does not exist in a world of {layout.world_size}")
    fitted = fit_to_ranks(positions, layout.world_size, layout.remainder)
    n = len(fitted) // layout.world_size
    block = fitted[rank * n : (rank + 1) * n]
    return block[: layout.batches(n) * layout.batch_size]


def worker_share(block: np.ndarray, layout: Layout, worker: int) -> np.ndarray:
    """The positions of ``block`` that DataLoader ``worker`` delivers: its batches ``worker``,
    ``worker + num_workers``, ..., concatenated (each worker's own batching regroups them exactly)."""
    if not 0 <= worker < layout.num_workers:
        raise PlanError(f"worker {worker} does not exist among {layout.num_workers}")
    batch = np.arange(len(block)) // layout.batch_size
    return block[batch % layout.num_workers == worker]


def remaining_after(positions: np.ndarray, layout: Layout, batches: int) -> np.ndarray:
    """What is left of ``positions`` once every rank delivered ``batches`` batches."""
    fitted = fit_to_ranks(positions, layout.world_size, layout.remainder)
    n = len(fitted) // layout.world_size
    if not 0 <= batches <= layout.batches(n):
        raise PlanError(f"{batches} batches delivered, but a rank makes {layout.batches(n)} in this epoch")
    if batches == layout.batches(n):
        return np.zeros(0, np.int64)
    consumed = batches * layout.batch_size
    return np.concatenate([fitted[r * n + consumed : (r + 1) * n] for r in range(layout.world_size)])


def to_intervals(positions: np.ndarray) -> list[list[int]]:
    """Positions as ``[start, end)`` runs of consecutive values (a compact resume state)."""
    if not len(positions):
        return []
    breaks = np.flatnonzero(np.diff(positions) != 1) + 1
    starts = positions[np.concatenate([[0], breaks])]
    ends = positions[np.concatenate([breaks - 1, [len(positions) - 1]])] + 1
    return np.stack([starts, ends], axis=1).tolist()


def from_intervals(intervals: Sequence[Sequence[int]]) -> np.ndarray:
    return np.concatenate([np.arange(start, end, dtype=np.int64) for start, end in intervals] or [np.zeros(0, np.int64)])


# Reading ------------------------------------------------------------------------------------------


def read_order(catalog: Catalog, ids: np.ndarray, window: int) -> np.ndarray:
    """Positions into ``ids`` in the order to read them: storage order within consecutive windows
    of ``window`` deliveries, so a reader holds at most a window ahead and merges neighbours."""
    order = np.arange(len(ids), dtype=np.int64)
    if window <= 1 or not len(ids):
        return order
    position = catalog.shard[ids].astype(np.int64) * (1 << 40) + catalog.offset[ids]
    window_of = order // window
    return np.lexsort((position, window_of)).astype(np.int64)


def read_runs(
    catalog: Catalog, ids: np.ndarray, order: np.ndarray, chunk_bytes: int = 4 << 20
) -> list[tuple[int, int, int, np.ndarray]]:
    """Group the reads (``ids[order]``) into runs of byte-adjacent samples of one shard, each at
    most about ``chunk_bytes`` long: ``(shard id, start byte, end byte, positions into ids)``."""
    if not len(order):
        return []
    read = ids[order]
    shard = catalog.shard[read]
    start = catalog.offset[read]
    end = start + catalog.size[read]
    # A run breaks where the shard changes or the next sample does not start where this one ends.
    breaks = np.flatnonzero((shard[1:] != shard[:-1]) | (start[1:] != end[:-1])) + 1
    shard, start, end = shard.tolist(), start.tolist(), end.tolist()  # Python ints: the loop below is per sample
    runs = []
    for first, last in zip([0, *breaks.tolist()], [*breaks.tolist(), len(read)]):
        if end[last - 1] - start[first] <= chunk_bytes:  # the usual case: the whole run is one read
            runs.append((shard[first], start[first], end[last - 1], order[first:last]))
            continue
        chunk_first = first
        for position in range(first, last):
            if position + 1 == last or end[position + 1] - start[chunk_first] > chunk_bytes:
                runs.append((shard[first], start[chunk_first], end[position], order[chunk_first : position + 1]))
                chunk_first = position + 1
    return runs
