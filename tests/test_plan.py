"""Properties of the epoch plan functions (streams.plan), checked with hypothesis."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.plan import (
    Catalog,
    Layout,
    PlanError,
    buffer_shuffle,
    epoch_sequence,
    fit_to_ranks,
    from_intervals,
    rank_block,
    read_order,
    read_runs,
    remaining_after,
    resampled_sequence,
    to_intervals,
    worker_share,
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
shuffles = st.sampled_from([None, "block", "shard", "sample"])
layouts = st.builds(
    Layout,
    world_size=st.integers(1, 4),
    num_workers=st.integers(1, 4),
    batch_size=st.integers(1, 5),
    drop_last=st.booleans(),
    remainder=st.sampled_from(["pad", "drop"]),
)


def blocks_of(positions: np.ndarray, layout: Layout) -> list[np.ndarray]:
    return [rank_block(positions, layout, rank) for rank in range(layout.world_size)]


def dataloader_order(block: np.ndarray, layout: Layout) -> np.ndarray:
    """What a DataLoader delivers from the workers' shares: one batch from each worker in turn
    (torch's in-order round robin), skipping workers that ran out."""
    shares = [list(worker_share(block, layout, w)) for w in range(layout.num_workers)]
    delivered: list[int] = []
    while any(shares):
        for share in shares:
            delivered += share[: layout.batch_size]
            del share[: layout.batch_size]
    return np.array(delivered, dtype=np.int64)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 80), layouts)
def test_every_rank_gets_the_same_batches_count_and_the_policy_holds(n, layout):
    positions = np.arange(n, dtype=np.int64)
    blocks = blocks_of(positions, layout)
    per_rank = layout.per_rank(n)
    assert {len(block) for block in blocks} == {min(per_rank, layout.batches(per_rank) * layout.batch_size)}
    delivered = np.concatenate(blocks).tolist()
    if layout.remainder == "drop" or n % layout.world_size == 0:
        assert len(set(delivered)) == len(delivered)  # nothing twice
    if not layout.drop_last:  # every sample delivered (pad: the documented padding repeats a few)
        expected = n - n % layout.world_size if layout.remainder == "drop" else n
        assert len(set(delivered)) == expected
        assert len(delivered) - expected == (-n % layout.world_size if layout.remainder == "pad" else 0)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 80), layouts)
def test_batches_do_not_depend_on_the_number_of_workers(n, layout):
    for block in blocks_of(np.arange(n, dtype=np.int64) * 7, layout):
        assert np.array_equal(dataloader_order(block, layout), block)
        shares = [worker_share(block, layout, w) for w in range(layout.num_workers)]
        assert sorted(np.concatenate(shares).tolist()) == sorted(block.tolist())


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 80), layouts, st.data())
def test_resume_gives_each_rank_the_rest_of_its_own_batches(n, layout, data):
    positions = np.random.default_rng(n).permutation(n)
    blocks = blocks_of(positions, layout)
    total = layout.batches(len(blocks[0])) if len(blocks[0]) else 0
    done = data.draw(st.integers(0, total))
    rest = remaining_after(positions, layout, done)
    if done == total:
        assert len(rest) == 0
        return
    for before, after in zip(blocks, blocks_of(rest, layout)):  # the same world size
        assert np.array_equal(after, before[done * layout.batch_size :])
    assert np.array_equal(from_intervals(to_intervals(rest)), rest)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 80), layouts, st.integers(1, 5), st.data())
def test_elastic_resume_reads_the_rest_once_over_another_world(n, layout, new_world, data):
    layout = Layout(layout.world_size, layout.num_workers, layout.batch_size, False, "pad")
    positions = np.arange(n, dtype=np.int64)
    total = layout.batches(len(blocks_of(positions, layout)[0]))
    done = data.draw(st.integers(0, total))
    consumed = [block[: done * layout.batch_size] for block in blocks_of(positions, layout)]
    rest = remaining_after(positions, layout, done)
    resized = Layout(new_world, 3, 2, False, "pad")
    after = np.concatenate(blocks_of(rest, resized)) if len(rest) else np.zeros(0, np.int64)
    assert set(np.concatenate([*consumed, after]).tolist()) == set(range(n))  # nothing missed
    assert set(after.tolist()) == set(rest.tolist())
    if len(rest) % new_world == 0 and n % layout.world_size == 0:
        assert sorted(np.concatenate([*consumed, after]).tolist()) == list(range(n))  # nothing twice


def test_remainder_error_refuses_an_uneven_split():
    with pytest.raises(PlanError, match="do not split evenly over 3"):
        fit_to_ranks(np.arange(10), 3, "error")
    with pytest.raises(PlanError, match="do not split evenly"):
        Layout(world_size=3, remainder="error").per_rank(10)
    assert Layout(world_size=2, remainder="error").per_rank(10) == 5


@settings(max_examples=60, deadline=None)
@given(sizes_strategy, shuffles, st.integers(0, 1000), st.integers(0, 50), st.integers(0, 6))
def test_the_sequence_is_a_pure_function_and_a_permutation(sizes, shuffle, seed, epoch, buffer):
    first = epoch_sequence(catalog_of(sizes), shuffle=shuffle, seed=seed, epoch=epoch, shuffle_buffer=buffer)
    again = epoch_sequence(catalog_of(sizes), shuffle=shuffle, seed=seed, epoch=epoch, shuffle_buffer=buffer)
    assert np.array_equal(first, again) and sorted(first.tolist()) == list(range(sum(sizes)))


@settings(max_examples=200, deadline=None)
@given(sizes_strategy, st.integers(1, 60), st.integers(0, 1000))
def test_block_shuffle_permutes_within_blocks_of_whole_shards(sizes, block, seed):
    catalog = catalog_of(sizes)
    sequence = epoch_sequence(catalog, shuffle="block", seed=seed, epoch=0, shuffle_block=block)
    assert sorted(sequence.tolist()) == list(range(len(catalog)))
    # Mixing stays within blocks: cut the sequence into the shortest pieces that hold whole shards;
    # no piece is longer than a block can be (shards starting in one block of ``block`` samples).
    last = {int(shard): position for position, shard in enumerate(catalog.shard[sequence])}
    start, reach = 0, -1
    for position, shard in enumerate(catalog.shard[sequence].tolist()):
        reach = max(reach, last[shard])
        if reach == position:
            assert position + 1 - start <= block + max(sizes) - 1
            start = position + 1


def test_order_changes_with_epoch_and_seed():
    catalog = catalog_of([10] * 12)
    for shuffle in ("block", "shard", "sample"):
        base = epoch_sequence(catalog, shuffle=shuffle, seed=0, epoch=0)
        assert not np.array_equal(base, epoch_sequence(catalog, shuffle=shuffle, seed=0, epoch=1))
        assert not np.array_equal(base, epoch_sequence(catalog, shuffle=shuffle, seed=1, epoch=0))
    assert np.array_equal(epoch_sequence(catalog, shuffle=None, seed=0, epoch=5), np.arange(120))


def test_shard_shuffle_without_a_buffer_keeps_each_shard_contiguous():
    catalog = catalog_of([4, 7, 1, 9])
    sequence = epoch_sequence(catalog, shuffle="shard", seed=3, epoch=2, shuffle_buffer=0)
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


@settings(max_examples=100, deadline=None)
@given(sizes_strategy, shuffles, st.integers(0, 100), st.integers(1, 6000), st.integers(0, 9))
def test_read_runs_cover_the_reads_with_contiguous_bounded_byte_ranges(sizes, shuffle, seed, chunk, window):
    catalog = catalog_of(sizes, sample_bytes=1024)
    ids = epoch_sequence(catalog, shuffle=shuffle, seed=seed, epoch=1, shuffle_buffer=5)
    order = read_order(catalog, ids, window)
    assert sorted(order.tolist()) == list(range(len(ids)))
    if window > 1:  # reads stay within their window of deliveries
        assert np.array_equal(order // window, np.arange(len(ids)) // window)
    runs = read_runs(catalog, ids, order, chunk_bytes=chunk)
    assert np.array_equal(np.concatenate([positions for *_, positions in runs] or [np.zeros(0, int)]), order)
    for shard, start, end, positions in runs:
        chosen = ids[positions]
        assert set(catalog.shard[chosen].tolist()) == {shard}
        assert catalog.offset[chosen][0] == start and catalog.offset[chosen][-1] + catalog.size[chosen][-1] == end
        assert np.all(catalog.offset[chosen][1:] == catalog.offset[chosen][:-1] + catalog.size[chosen][:-1])
        assert end - start <= max(chunk, 1024)
    if shuffle is None:  # storage order: one run per shard when chunks and windows are large
        assert len(read_runs(catalog, ids, read_order(catalog, ids, 1 << 20), chunk_bytes=1 << 30)) <= sum(1 for n in sizes if n)


def test_resampling_has_the_epoch_length_and_follows_the_weights():
    catalog = catalog_of([10, 10, 5, 5], sets=[2, 2])  # two shard sets: 20 and 10 samples
    draws = resampled_sequence(catalog.set_starts, [0.0, 1.0], 1000, seed=0, epoch=0)
    assert len(draws) == 1000 and draws.min() >= 20 and draws.max() < 30
    draws = resampled_sequence(catalog.set_starts, [3.0, 1.0], 20000, seed=0, epoch=0)
    share = np.mean(draws < 20)
    assert abs(share - 0.75) < 0.02  # binomial sd 0.003
    assert len(np.unique(draws[draws < 20])) == 20
    assert not np.array_equal(draws, resampled_sequence(catalog.set_starts, [3.0, 1.0], 20000, seed=0, epoch=1))
    with pytest.raises(PlanError, match="weights must be 2"):
        resampled_sequence(catalog.set_starts, [1.0], 5, seed=0, epoch=0)
