"""The obvious way to train is the correct way: a true shuffle over class-sorted shards, batches that
do not depend on the number of DataLoader workers, subsets inside the plan, required splits, and
random access (``ShardDataset``) with the habits of a map-style dataset."""

from __future__ import annotations

from collections import Counter
from math import comb
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler

from neuroshards import IndexFileError, PlanError
from shardgen.synthetic.shards import write_uneven_shards
from streams import EventStream, ShardDataset, Subset

CLASSES, PER_CLASS, SHARD = 11, 60, 30


def fork(workers: int) -> dict:
    """Loader options: forked workers (spawning re-imports torch in each, seconds apiece)."""
    return {"num_workers": workers, "multiprocessing_context": "fork"} if workers else {"num_workers": 0}


@pytest.fixture(scope="module")
def sorted_shards(tmp_path_factory) -> Path:
    """660 samples written class by class (as conversions of class folders are), 22 shards."""
    root = tmp_path_factory.mktemp("class_sorted") / "shards"
    labels = np.repeat(np.arange(CLASSES), PER_CLASS)
    write_uneven_shards(root, [SHARD] * (len(labels) // SHARD), labels=labels.tolist())
    return root


def _keys(batches) -> list[list[tuple[str, int]]]:
    return [[tuple(item) for item in batch] for batch in batches]


def _key_batches(stream: EventStream, batch_size: int, partial: bool = True) -> EventStream:
    return stream.map(lambda s: (s["__key__"], s["label"])).batch(batch_size, partial=partial, collate=list)


def uniform_distinct_labels(counts: list[int], batch: int) -> float:
    """Expected distinct labels in ``batch`` samples drawn without replacement (hypergeometric)."""
    total = sum(counts)
    return sum(1 - comb(total - c, batch) / comb(total, batch) for c in counts)


def mean_distinct(batches) -> float:
    full = [batch for batch in batches if len(batch) == 32]
    return float(np.mean([len({label for _key, label in batch}) for batch in full]))


@pytest.mark.parametrize("workers", [0, 1, 4])
def test_shuffle_mixes_class_sorted_shards_like_a_uniform_permutation(sorted_shards, workers):
    stream = _key_batches(EventStream(sorted_shards, split="train", shuffle=True, seed=5), 32)
    target = 0.95 * uniform_distinct_labels([PER_CLASS] * CLASSES, 32)
    for epoch in range(3):
        stream.set_epoch(epoch)
        assert mean_distinct(stream.loader(**fork(workers))) >= target


def test_the_quality_test_tells_a_weak_shuffle_apart(sorted_shards):
    """A shard-level shuffle with a small buffer over class-sorted shards mixes badly, and the
    measure above says so (it is no test that cannot fail)."""
    weak = _key_batches(EventStream(sorted_shards, split="train", shuffle="shard", shuffle_buffer=16, seed=5), 32)
    assert mean_distinct(weak) < 0.95 * uniform_distinct_labels([PER_CLASS] * CLASSES, 32)


@pytest.mark.parametrize("partial", [True, False])
def test_batches_are_the_same_for_any_number_of_workers(sorted_shards, partial):
    stream = EventStream(sorted_shards, split="train", shuffle=True, seed=1)
    batched = _key_batches(stream, 32, partial)
    results = {}
    for workers in (0, 1, 2, 4):
        stream.set_epoch(3)
        results[workers] = _keys(batched.loader(**fork(workers)))
    assert results[0] == results[1] == results[2] == results[4]
    sizes = [len(batch) for batch in results[0]]
    expected = [32] * (660 // 32) + ([660 % 32] if partial else [])
    assert sizes == expected and len(batched) == len(batched.loader(num_workers=4)) == len(expected)


def test_batches_are_the_same_for_any_number_of_workers_on_every_rank(sorted_shards):
    for rank in range(3):
        stream = EventStream(sorted_shards, split="train", shuffle=True, seed=2, rank=rank, world_size=3)
        batched = _key_batches(stream, 16)
        stream.set_epoch(1)
        alone = _keys(batched)
        stream.set_epoch(1)
        assert _keys(batched.loader(**fork(3))) == alone
        assert len(alone) == len(batched) == -(-660 // 3 // 16)


@pytest.mark.parametrize("option", [{"batch_size": 4}, {"shuffle": True}, {"in_order": False}])
def test_loader_options_that_would_reorder_the_plan_are_refused(sorted_shards, option):
    with pytest.raises(ValueError, match=next(iter(option))):
        EventStream(sorted_shards, split="train").loader(**option)


def test_each_pass_of_the_loader_is_a_new_permutation(sorted_shards):
    loader = _key_batches(EventStream(sorted_shards, split="train", shuffle=True), 64).loader(**fork(2))
    first, second = _keys(loader), _keys(loader)
    assert first != second and sorted(map(tuple, sum(first, []))) == sorted(map(tuple, sum(second, [])))


def test_subsets_choose_from_the_index(sorted_shards):
    stream = EventStream(sorted_shards, split="train")
    keys = stream.catalog.keys(np.arange(len(stream.catalog)))
    labels = np.asarray(stream.catalog.label)

    def chosen(subset: Subset) -> list[str]:
        return [sample["__key__"] for sample in EventStream(sorted_shards, split="train", subset=subset)]

    assert chosen(Subset.keys([keys[5], keys[100]])) == [keys[5], keys[100]]
    assert chosen(Subset.where(lambda entry: entry["label"] == 3)) == [k for k, label in zip(keys, labels) if label == 3]
    hold_out, rest = chosen(Subset.fraction(0.1, seed=4)), chosen(Subset.fraction(0.1, seed=4).complement())
    assert len(hold_out) == 66 and sorted(hold_out + rest) == sorted(keys) and not set(hold_out) & set(rest)
    assert hold_out == chosen(Subset.fraction(0.1, seed=4)) != chosen(Subset.fraction(0.1, seed=5))
    per_class = chosen(Subset.per_class(7, seed=1))
    assert Counter(labels[keys.index(key)] for key in per_class) == {label: 7 for label in range(CLASSES)}
    with pytest.raises(PlanError, match="2 keys asked for, 1 found"):
        EventStream(sorted_shards, split="train", subset=Subset.keys([keys[0], "no-such-key"]))
    with pytest.raises(PlanError, match="holds no samples"):
        EventStream(sorted_shards, split="train", subset=Subset.per_class(0))


def test_a_split_is_required_where_the_index_has_several(tmp_path):
    write_uneven_shards(tmp_path / "a", [4], split="train")
    write_uneven_shards(tmp_path / "b", [3], split="test")
    from neuroshards.index import load_index, save_index

    train, test = load_index(tmp_path / "a"), load_index(tmp_path / "b")
    (tmp_path / "a" / "test-000000.tar").write_bytes((tmp_path / "b" / "test-000000.tar").read_bytes())
    from neuroshards.index import SampleColumns

    both = type(train)(
        train.dataset,
        train.sensor_size,
        train.classes,
        train.shards + test.shards,
        SampleColumns.concatenate([train.samples, test.samples], [0, 1]),
    )
    save_index(both, tmp_path / "a")
    with pytest.raises(IndexFileError, match=r"has splits \['test', 'train'\]: choose one with split="):
        EventStream(tmp_path / "a")
    assert len(list(EventStream(tmp_path / "a", split="all"))) == 7
    assert len(list(EventStream(tmp_path / "a", split="test"))) == 3


def test_shard_dataset_reads_any_sample_alone(sorted_shards):
    dataset = ShardDataset(sorted_shards, split="train")
    streamed = list(EventStream(sorted_shards, split="train"))
    assert len(dataset) == len(streamed) == 660
    for i in (0, 1, 299, 300, 659, -1):
        sample = dataset[i]
        assert sample["__key__"] == streamed[i]["__key__"] and sample["label"] == streamed[i]["label"]
        for name in "txyp":
            assert np.array_equal(sample["events"][name], streamed[i]["events"][name])
    with pytest.raises(IndexError):
        dataset[660]
    assert dataset.keys == [sample["__key__"] for sample in streamed]


def test_shard_dataset_in_a_shuffling_dataloader_and_a_distributed_sampler(sorted_shards):
    dataset = ShardDataset(sorted_shards, split="train", transform=lambda s: (s["__key__"], s["label"]))
    seen = [key for keys, _labels in DataLoader(dataset, batch_size=16, shuffle=True, **fork(2)) for key in keys]
    assert sorted(seen) == sorted(dataset.keys)
    parts = [[dataset[i][0] for i in DistributedSampler(dataset, num_replicas=3, rank=r, shuffle=True, seed=0)] for r in range(3)]
    assert sorted(sum(parts, [])) == sorted(dataset.keys) and len({len(part) for part in parts}) == 1


def test_shard_dataset_takes_a_subset(sorted_shards):
    dataset = ShardDataset(sorted_shards, split="train", subset=Subset.per_class(2, seed=0))
    assert len(dataset) == 2 * CLASSES and Counter(dataset.labels.tolist()) == {label: 2 for label in range(CLASSES)}
    assert torch.utils.data.get_worker_info() is None and dataset[3]["label"] == dataset.labels[3]
