"""Properties of the epoch plan functions (streams.plan), checked with hypothesis."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.plan import (
    PlanError,
    SlotPlan,
    buffer_shuffle,
    Catalog,
    delivered_per_worker,
    epoch_sequence,
    plan_slot,
    read_runs,
    resampled_sequence,
    samples_per_rank,
    skip_delivered,
)


def catalog_of(sizes: list[int], sample_bytes: int = 1024, sets: list[int] | None = None) -> Catalog:
    """A catalog of shards with ``sizes`` samples each, samples ``sample_bytes`` apart in storage;
    ``sets``: how many consecutive shards each shard set holds (default: one set)."""
    sets = [len(sizes)] if sets is None else sets
    set_of_shard = np.repeat(np.arange(len(sets)), sets)
    shard = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
    within = np.concatenate([np.arange(n) for n in sizes] or [np.zeros(0, int)]).astype(np.int64)
    shard_starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    set_starts = np.concatenate([[0], shard_starts[np.cumsum(sets)]]).astype(np.int64)
    return Catalog(
        files=[(int(set_of_shard[j]), f"s{j}.tar", n * sample_bytes, "") for j, n in enumerate(sizes)],
        key=np.array([f"k{j}_{i}".encode() for j, i in zip(shard.tolist(), within.tolist())], dtype="S16"),
        label=np.zeros(len(shard), dtype=np.int32),
        shard=shard,
        offset=within * sample_bytes,
        size=np.full(len(shard), sample_bytes, dtype=np.int64),
        checksum=np.zeros(len(shard), dtype=np.uint64),
        shard_starts=shard_starts,
        set_starts=set_starts,
    )


sizes_strategy = st.lists(st.integers(0, 25), min_size=1, max_size=8)
layout = st.tuples(st.integers(1, 3), st.integers(1, 3))  # world size, workers
shuffles = st.sampled_from([None, "shard", "sample"])


def all_slots(catalog, world: int, workers: int, **options) -> list[np.ndarray]:
    return [
        plan_slot(catalog, rank=rank, world_size=world, worker=worker, num_workers=workers, **options).samples
        for rank in range(world)
        for worker in range(workers)
    ]


@settings(max_examples=150, deadline=None)
@given(sizes_strategy, layout, shuffles, st.integers(0, 2**32 - 1), st.integers(0, 50), st.integers(0, 6))
def test_partition_follows_the_remainder_policy(sizes, world_workers, shuffle, seed, epoch, buffer):
    world, workers = world_workers
    catalog = catalog_of(sizes)
    total = len(catalog)
    common = dict(seed=seed, epoch=epoch, shuffle=shuffle, shuffle_buffer=buffer)
    layout = dict(world_size=world, num_workers=workers)
    if total < world or -(-total // world) < workers:
        with pytest.raises(PlanError, match="would get nothing"):
            plan_slot(catalog, remainder="pad", **layout, **common)
        return
    for remainder in ("drop", "pad"):
        if total // world < workers and remainder == "drop":
            continue
        blocks = all_slots(catalog, world, workers, remainder=remainder, **common)
        per_rank = [sum(len(b) for b in blocks[r * workers : (r + 1) * workers]) for r in range(world)]
        # Every rank reads as much as every other, split alike over its workers (sizes differ by <= 1).
        assert len(set(per_rank)) == 1
        assert [len(b) for b in blocks[:workers]] * world == [len(b) for b in blocks]
        assert max(len(b) for b in blocks) - min(len(b) for b in blocks) <= 1
        delivered = np.concatenate(blocks).tolist()
        if remainder == "drop":
            assert len(set(delivered)) == len(delivered) == total - total % world
        else:
            counts = Counter(delivered)
            assert set(counts) == set(range(total)) and len(delivered) - total == -total % world
            assert max(counts.values()) - min(counts.values()) <= 1
    if world == 1:  # one process: every sample exactly once, whatever the policy
        for remainder in ("pad", "drop", "error"):
            assert sorted(np.concatenate(all_slots(catalog, 1, workers, remainder=remainder, **common)).tolist()) == list(range(total))
    if total % world:
        with pytest.raises(PlanError, match="do not split evenly"):
            plan_slot(catalog, remainder="error", **layout, **common)


@settings(max_examples=60, deadline=None)
@given(sizes_strategy, shuffles, st.integers(0, 1000), st.integers(0, 50))
def test_plan_is_a_pure_function_of_its_arguments(sizes, shuffle, seed, epoch):
    catalog = catalog_of(sizes)
    if len(catalog) < 2:
        return
    first = plan_slot(catalog, seed=seed, epoch=epoch, rank=1, world_size=2, shuffle=shuffle, shuffle_buffer=4)
    again = plan_slot(catalog_of(sizes), seed=seed, epoch=epoch, rank=1, world_size=2, shuffle=shuffle, shuffle_buffer=4)
    assert np.array_equal(first.samples, again.samples) and np.array_equal(first.read_order, again.read_order)


def test_order_changes_with_epoch_and_seed():
    starts = catalog_of([10] * 12).shard_starts
    for shuffle in ("shard", "sample"):
        base = epoch_sequence(starts, shuffle=shuffle, seed=0, epoch=0)
        assert not np.array_equal(base, epoch_sequence(starts, shuffle=shuffle, seed=0, epoch=1))
        assert not np.array_equal(base, epoch_sequence(starts, shuffle=shuffle, seed=1, epoch=0))
    assert np.array_equal(epoch_sequence(starts, shuffle=None, seed=0, epoch=5), np.arange(120))


def test_shard_shuffle_keeps_each_shard_contiguous():
    catalog = catalog_of([4, 7, 1, 9])
    sequence = epoch_sequence(catalog.shard_starts, shuffle="shard", seed=3, epoch=2)
    shards = catalog.shard[sequence]
    assert len(np.flatnonzero(np.diff(shards))) == 3  # one change between consecutive shards
    assert all(np.all(np.diff(catalog.offset[sequence][shards == j]) > 0) for j in range(4))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 300), st.integers(0, 40), st.integers(0, 2**32 - 1))
def test_buffer_shuffle_is_a_permutation_within_the_buffer(n, buffer, seed):
    order = buffer_shuffle(n, buffer, np.random.default_rng(seed))
    assert sorted(order.tolist()) == list(range(n))
    # The j-th delivery needs reads up to position j + buffer - 1: memory stays within the buffer.
    assert np.all(order < np.arange(n) + max(buffer, 1))


@settings(max_examples=150, deadline=None)
@given(sizes_strategy, shuffles, st.integers(0, 100), st.integers(1, 8), st.data())
def test_skip_delivered_leaves_exactly_the_rest_and_reads_no_consumed_sample(sizes, shuffle, seed, buffer, data):
    catalog = catalog_of(sizes)
    if len(catalog) == 0:
        return
    plan = plan_slot(catalog, seed=seed, epoch=0, shuffle=shuffle, shuffle_buffer=buffer)
    delivered = data.draw(st.integers(0, len(plan)))
    rest = skip_delivered(plan, delivered)
    assert np.array_equal(rest.samples, plan.samples[delivered:])
    assert sorted(rest.read_order.tolist()) == list(range(len(plan) - delivered))
    # The reads of the rest, in order, are the reads of the whole plan that deliver after the cut.
    whole_reads = plan.read_order[plan.read_order >= delivered]
    assert np.array_equal(rest.read_order + delivered, whole_reads)
    assert skip_delivered(rest, 0).samples.tolist() == rest.samples.tolist()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=1, max_size=5), st.integers(1, 7), st.booleans(), st.data())
def test_delivered_per_worker_matches_a_round_robin_dataloader(sizes, batch_size, partial, data):
    # The DataLoader's in-order interleaving: one batch from each worker in turn, skipping workers
    # that have run out (torch marks them unavailable and moves on).
    made = [(-(-n // batch_size) if partial else n // batch_size) for n in sizes]
    order, given_batches = [], [0] * len(sizes)
    while len(order) < sum(made):
        for worker in range(len(sizes)):
            if given_batches[worker] < made[worker]:
                given_batches[worker] += 1
                order.append(worker)
    batches = data.draw(st.integers(0, len(order)))
    expected = [0] * len(sizes)
    for worker in order[:batches]:
        expected[worker] += min(batch_size, sizes[worker] - expected[worker])
    assert delivered_per_worker(batches, sizes, batch_size, partial) == expected
    with pytest.raises(PlanError):
        delivered_per_worker(len(order) + 1, sizes, batch_size, partial)


@settings(max_examples=100, deadline=None)
@given(sizes_strategy, shuffles, st.integers(0, 100), st.integers(1, 6000))
def test_read_runs_cover_the_reads_with_contiguous_bounded_byte_ranges(sizes, shuffle, seed, chunk):
    catalog = catalog_of(sizes, sample_bytes=1024)
    if len(catalog) == 0:
        return
    plan = plan_slot(catalog, seed=seed, epoch=1, shuffle=shuffle, shuffle_buffer=5)
    runs = read_runs(catalog, plan, chunk_bytes=chunk)
    assert np.array_equal(np.concatenate([positions for *_, positions in runs]), plan.read_order)
    for shard, start, end, positions in runs:
        ids = plan.samples[positions]
        assert set(catalog.shard[ids].tolist()) == {shard}
        assert catalog.offset[ids][0] == start and catalog.offset[ids][-1] + catalog.size[ids][-1] == end
        assert np.all(catalog.offset[ids][1:] == catalog.offset[ids][:-1] + catalog.size[ids][:-1])
        assert end - start <= max(chunk, 1024)
    if shuffle == "shard":  # sequential reading: one run per shard piece when chunks are large
        assert len(read_runs(catalog, plan, chunk_bytes=1 << 30)) <= sum(1 for n in sizes if n)


def test_resampling_has_the_epoch_length_and_follows_the_weights():
    catalog = catalog_of([10, 10, 5, 5], sets=[2, 2])  # two shard sets: 20 and 10 samples
    draws = resampled_sequence(catalog.set_starts, [0.0, 1.0], 1000, seed=0, epoch=0)
    assert len(draws) == 1000 and draws.min() >= 20 and draws.max() < 30
    draws = resampled_sequence(catalog.set_starts, [3.0, 1.0], 20000, seed=0, epoch=0)
    share = np.mean(draws < 20)
    assert abs(share - 0.75) < 0.02  # binomial sd 0.003
    assert len(np.unique(draws[draws < 20])) == 20
    assert not np.array_equal(draws, resampled_sequence(catalog.set_starts, [3.0, 1.0], 20000, seed=0, epoch=1))
    with pytest.raises(PlanError, match="give epoch_length"):
        plan_slot(catalog, seed=0, epoch=0, weights=[1, 1])
    with pytest.raises(PlanError, match="weights must be 2"):
        resampled_sequence(catalog.set_starts, [1.0], 5, seed=0, epoch=0)
    per_rank = [len(plan_slot(catalog, seed=0, epoch=0, rank=r, world_size=3, epoch_length=100, remainder="pad")) for r in range(3)]
    assert per_rank == [samples_per_rank(100, 3, "pad")] * 3 == [34] * 3


def test_slot_plan_positions_are_relative_to_the_resume_point():
    plan = SlotPlan(np.array([5, 6, 7, 8]), np.array([1, 0, 3, 2]))
    rest = skip_delivered(plan, 2)
    assert rest.start == 2 and rest.samples.tolist() == [7, 8] and rest.read_order.tolist() == [1, 0]
    with pytest.raises(PlanError):
        skip_delivered(plan, 5)
