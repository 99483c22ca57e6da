"""The epoch plan: which samples each (rank, DataLoader worker) reads, in which order, from the index.

Everything here is a pure function of explicit arguments (seed, epoch, rank, world size, worker,
number of workers, the sample table): the same arguments give the same plan on any machine, and a
resume is arithmetic on the plan, never a re-read.

One epoch:

1. the *sequence*: all samples of the split, in storage order (``shuffle=None``), with the shards
   permuted (``"shard"``), or fully permuted (``"sample"``); or, in resampling mode, ``length``
   draws with replacement (optionally weighted per sample);
2. the *remainder policy* makes its length a multiple of the world size: ``"drop"`` cuts the
   last ``len % world_size`` samples, ``"pad"`` repeats the first ``-len % world_size`` samples at
   the end (cyclically), ``"error"`` refuses; with one process nothing is ever dropped or repeated;
3. rank ``r`` takes the contiguous block ``[r * n, (r + 1) * n)``, so every rank gets exactly ``n``
   samples; its DataLoader workers split that block contiguously, the first ``n % num_workers``
   workers one sample more. Every rank splits alike, so every rank makes the same number of
   batches, and within a rank each sample is read exactly once;
4. with ``shuffle="shard"`` each slot then shuffles its block through a sliding buffer of
   ``shuffle_buffer`` samples: the slot reads its block sequentially and holds at most that many
   samples in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numba
import numpy as np

from neuroshards.errors import PlanError
from neuroshards.index import DatasetIndex

SHUFFLES = (None, "shard", "sample")
REMAINDERS = ("pad", "drop", "error")



@dataclass(frozen=True)
class Catalog:
    """The samples a stream reads: the rows of a split of one or more indexes (shard sets).

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

    def __len__(self) -> int:
        return len(self.key)

    def keys(self, ids: np.ndarray) -> list[str]:
        return [key.decode("utf-8") for key in self.key[ids].tolist()]


def build_catalog(indexes: Sequence[DatasetIndex], split: str | None) -> Catalog:
    """The catalog of ``split`` over ``indexes`` (one shard set each)."""
    files: list[tuple[int, str, int, str]] = []
    parts: dict[str, list[np.ndarray]] = {name: [] for name in ("key", "label", "shard", "offset", "size", "checksum")}
    set_starts = [0]
    width = max((index.samples.key.dtype.itemsize for index in indexes), default=1)
    for number, index in enumerate(indexes):
        chosen = index.shard_numbers(split)
        rows = index.rows(split)
        renumber = np.full(len(index.shards), -1, dtype=np.int32)
        renumber[chosen] = np.arange(len(files), len(files) + len(chosen), dtype=np.int32)
        files.extend((number, index.shards[j].path, index.shards[j].bytes, index.shards[j].sha256) for j in chosen)
        samples = index.samples
        contiguous = len(rows) == len(samples)
        for name in parts:
            column = getattr(samples, name) if contiguous else getattr(samples, name)[rows]
            parts[name].append(column.astype(f"S{width}") if name == "key" else column)
        parts["shard"][-1] = renumber[parts["shard"][-1]]
        set_starts.append(set_starts[-1] + len(rows))
    columns = {name: (values[0] if len(values) == 1 else np.concatenate(values)) for name, values in parts.items()}
    shard = columns["shard"]
    counts = np.bincount(shard, minlength=len(files)) if len(shard) else np.zeros(len(files), dtype=np.int64)
    shard_starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return Catalog(files=files, **columns, shard_starts=shard_starts, set_starts=np.asarray(set_starts, dtype=np.int64))


def epoch_rng(seed: int, epoch: int, *stream: int) -> np.random.Generator:
    """The generator of one (seed, epoch[, slot]) stream: PCG64 seeded by the tuple, machine-independent."""
    return np.random.default_rng([int(seed), int(epoch), *map(int, stream)])


def epoch_sequence(shard_starts: np.ndarray, *, shuffle: str | None, seed: int, epoch: int) -> np.ndarray:
    """All sample ids of one epoch, before partitioning (see the module docstring)."""
    if shuffle not in SHUFFLES:
        raise PlanError(f"shuffle must be one of {SHUFFLES}, got {shuffle!r}")
    total = int(shard_starts[-1])
    if shuffle is None:
        return np.arange(total, dtype=np.int64)
    rng = epoch_rng(seed, epoch)
    if shuffle == "sample":
        return rng.permutation(total).astype(np.int64)
    order = rng.permutation(len(shard_starts) - 1)
    return np.concatenate(
        [np.arange(shard_starts[j], shard_starts[j + 1], dtype=np.int64) for j in order] or [np.zeros(0, np.int64)]
    )


def resampled_sequence(
    set_starts: np.ndarray, weights: Sequence[float] | None, length: int, *, seed: int, epoch: int
) -> np.ndarray:
    """``length`` draws with replacement: a shard set by ``weights`` (default: by size), then a sample
    of it uniformly. Drawn in storage order is not needed: every draw is a seek by offset."""
    sizes = np.diff(set_starts).astype(np.float64)
    if length < 1:
        raise PlanError(f"epoch_length must be positive, got {length}")
    if weights is None:
        weights = sizes
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != sizes.shape or np.any(weights < 0) or not np.isfinite(weights).all() or weights.sum() <= 0:
        raise PlanError(f"weights must be {len(sizes)} non-negative numbers, not all zero; got {weights.tolist()}")
    if np.any((weights > 0) & (sizes == 0)):
        raise PlanError("a shard set with a positive weight holds no samples")
    rng = epoch_rng(seed, epoch)
    chosen = rng.choice(len(sizes), size=length, p=weights / weights.sum())
    within = np.floor(rng.random(length) * sizes[chosen]).astype(np.int64)
    return set_starts[chosen] + within


def samples_per_rank(total: int, world_size: int, remainder: str) -> int:
    """How many samples each rank reads per epoch under the remainder policy."""
    if remainder not in REMAINDERS:
        raise PlanError(f"remainder must be one of {REMAINDERS}, got {remainder!r}")
    if total < world_size:
        raise PlanError(f"{total} samples cannot feed {world_size} ranks: some would get nothing; use fewer ranks")
    if remainder == "error" and total % world_size:
        raise PlanError(
            f"{total} samples do not split evenly over {world_size} ranks ({total % world_size} left over); "
            "choose remainder='pad' or 'drop'"
        )
    return -(-total // world_size) if remainder == "pad" else total // world_size


def worker_sizes(total: int, world_size: int, num_workers: int, remainder: str) -> np.ndarray:
    """Samples each DataLoader worker of a rank reads per epoch (the same on every rank)."""
    per_rank = samples_per_rank(total, world_size, remainder)
    if per_rank < num_workers:
        raise PlanError(
            f"{total} samples cannot feed {world_size} ranks x {num_workers} DataLoader workers: some would get "
            "nothing; use fewer ranks or workers"
        )
    sizes = np.full(num_workers, per_rank // num_workers, dtype=np.int64)
    sizes[: per_rank % num_workers] += 1
    return sizes


def slot_block(
    sequence: np.ndarray, *, rank: int, world_size: int, worker: int, num_workers: int, remainder: str
) -> np.ndarray:
    """The contiguous block of ``sequence`` that (``rank``, ``worker``) reads, after the remainder policy."""
    if not (0 <= rank < world_size and 0 <= worker < num_workers):
        raise PlanError(f"rank {rank} of {world_size} / worker {worker} of {num_workers} does not exist")
    sizes = worker_sizes(len(sequence), world_size, num_workers, remainder)
    per_rank = int(sizes.sum())
    if per_rank * world_size > len(sequence):  # "pad": repeat from the start, cyclically
        sequence = np.resize(sequence, per_rank * world_size)
    first = rank * per_rank + int(sizes[:worker].sum())
    return sequence[first : first + sizes[worker]]


@numba.njit(cache=True)
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


def buffer_shuffle(n: int, buffer: int, rng: np.random.Generator) -> np.ndarray:
    """Delivery order of ``n`` sequentially read items through a sliding shuffle buffer of
    ``buffer`` items: ``result[j]`` is the read position delivered j-th. The j-th delivery needs at
    most ``j + buffer`` reads, so a reader holds at most ``buffer`` items."""
    if buffer <= 1 or n <= 1:
        return np.arange(n, dtype=np.int64)
    emitted, held = _sliding_buffer(n, buffer, rng.integers(0, buffer, size=max(n - buffer, 0)))
    return np.concatenate([emitted, rng.permutation(held)])


@dataclass(frozen=True)
class SlotPlan:
    """What one (rank, worker) slot reads in one epoch.

    ``samples[j]``: the sample id delivered j-th. ``read_order``: positions into ``samples`` in the
    order the reader fetches them (storage order for shard-level shuffling; the delivery order
    itself otherwise). ``start``: how many samples of the epoch were delivered before this plan
    (a resume); positions are relative to it.
    """

    samples: np.ndarray
    read_order: np.ndarray
    start: int = 0

    def __len__(self) -> int:
        return len(self.samples)


def plan_slot(
    catalog: Catalog,
    *,
    seed: int,
    epoch: int,
    rank: int = 0,
    world_size: int = 1,
    worker: int = 0,
    num_workers: int = 1,
    shuffle: str | None = "shard",
    shuffle_buffer: int = 256,
    remainder: str = "pad",
    epoch_length: int | None = None,
    weights: Sequence[float] | None = None,
) -> SlotPlan:
    """The plan of DataLoader ``worker`` of ``rank`` for one epoch."""
    if epoch_length is not None:
        sequence = resampled_sequence(catalog.set_starts, weights, epoch_length, seed=seed, epoch=epoch)
    else:
        if weights is not None:
            raise PlanError("weights mix shard sets by resampling: give epoch_length too")
        sequence = epoch_sequence(catalog.shard_starts, shuffle=shuffle, seed=seed, epoch=epoch)
    block = slot_block(
        sequence, rank=rank, world_size=world_size, worker=worker, num_workers=num_workers, remainder=remainder
    )
    if shuffle == "shard" and epoch_length is None:
        slot = rank * num_workers + worker
        delivered = buffer_shuffle(len(block), shuffle_buffer, epoch_rng(seed, epoch, slot))
        read_order = np.empty_like(delivered)
        read_order[delivered] = np.arange(len(delivered))
        return SlotPlan(block[delivered], read_order)
    return SlotPlan(block, np.arange(len(block), dtype=np.int64))


def skip_delivered(plan: SlotPlan, delivered: int) -> SlotPlan:
    """The rest of ``plan`` once its first ``delivered`` samples were consumed: no consumed sample
    is read again; samples read ahead but not delivered are read again (they were only in memory)."""
    if not 0 <= delivered <= len(plan):
        raise PlanError(f"cannot skip {delivered} samples of a plan of {len(plan)}")
    remaining = plan.read_order[plan.read_order >= delivered] - delivered
    return SlotPlan(plan.samples[delivered:], remaining, plan.start + delivered)


def delivered_per_worker(batches: int, sizes: Sequence[int], batch_size: int, partial: bool = True) -> list[int]:
    """Samples each DataLoader worker had delivered after ``batches`` batches of one rank.

    ``sizes``: the samples of each worker. The DataLoader takes batches from its workers
    round-robin and skips a worker once it is exhausted; a worker makes ``ceil(size / batch_size)``
    batches (``floor`` without ``partial``), each of ``batch_size`` samples but a partial last one.
    """
    if batches < 0 or batch_size < 1 or not len(sizes):
        raise PlanError(f"bad progress: {batches} batches, {len(sizes)} workers, batch size {batch_size}")
    made = [(-(-size // batch_size) if partial else size // batch_size) for size in sizes]
    if batches > sum(made):
        raise PlanError(f"{batches} batches delivered, but the workers make only {sum(made)} in an epoch")
    taken = [0] * len(sizes)
    remaining = batches
    while remaining:
        for worker, limit in enumerate(made):
            if remaining and taken[worker] < limit:
                taken[worker] += 1
                remaining -= 1
    return [min(count * batch_size, size) for count, size in zip(taken, sizes)]


def read_runs(catalog: Catalog, plan: SlotPlan, chunk_bytes: int = 4 << 20) -> list[tuple[int, int, int, np.ndarray]]:
    """Group the plan's reads into runs of byte-adjacent samples of one shard, each at most about
    ``chunk_bytes`` long: ``(shard id, start byte, end byte, positions into plan.samples)``.
    Shard-level plans read whole shards sequentially; sample-level plans seek once per sample."""
    ids = plan.samples[plan.read_order]
    if len(ids) == 0:
        return []
    shard = catalog.shard[ids]
    start = catalog.offset[ids]
    end = start + catalog.size[ids]
    # A run breaks where the shard changes or the next sample does not start where this one ends.
    breaks = np.flatnonzero((shard[1:] != shard[:-1]) | (start[1:] != end[:-1])) + 1
    shard, start, end = shard.tolist(), start.tolist(), end.tolist()  # Python ints: the loop below is per sample
    runs = []
    for first, last in zip([0, *breaks.tolist()], [*breaks.tolist(), len(ids)]):
        if end[last - 1] - start[first] <= chunk_bytes:  # the usual case: the whole run is one read
            runs.append((shard[first], start[first], end[last - 1], plan.read_order[first:last]))
            continue
        chunk_first = first
        for position in range(first, last):
            if position + 1 == last or end[position + 1] - start[chunk_first] > chunk_bytes:
                runs.append((shard[first], start[chunk_first], end[position], plan.read_order[chunk_first : position + 1]))
                chunk_first = position + 1
    return runs
