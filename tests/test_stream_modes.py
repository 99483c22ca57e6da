"""EventStream modes in one process: resampling with weighted mixing, resume, loud plan errors."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch

from shardgen.synthetic.shards import write_uneven_shards
from streams import EventStream
from streams.plan import PlanError


@pytest.fixture(scope="module")
def two_sets(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("modes")
    write_uneven_shards(root / "a", [6, 2, 5], dataset="a")
    write_uneven_shards(root / "b", [3, 4], dataset="b")
    return root / "a", root / "b"


def _keys(stream) -> list[str]:
    return [sample["__key__"] for sample in stream]


def _labels(batches) -> list[list[int]]:
    return [batch["label"].tolist() for batch in batches]


def _whole_then_interrupted(stream, batches, epoch: int, head_batches: int):
    """Epoch ``epoch`` in full, then again stopped after ``head_batches``: (full, head, state)."""
    stream.set_epoch(epoch)
    full = _labels(batches)
    stream.set_epoch(epoch)
    iterator = iter(batches)
    head = [next(iterator)["label"].tolist() for _ in range(head_batches)]
    return full, head, stream.state_dict()


def test_mixing_draws_the_epoch_length_by_weight(two_sets):
    a, b = two_sets
    only_b = _keys(EventStream([a, b], split="train", epoch_length=40, weights=[0, 1], seed=1))
    assert len(only_b) == 40 and {key.split("_")[0] for key in only_b} == {"b"}
    mixed = EventStream([a, b], split="train", epoch_length=400, weights=[1, 3], seed=1)
    first, second = _keys(mixed), _keys(mixed)  # each pass: the next epoch, new draws
    share_b = Counter(key.split("_")[0] for key in first)["b"] / 400
    assert 0.65 < share_b < 0.85 and first != second
    mixed.set_epoch(0)
    assert _keys(mixed) == first


def test_resampled_stream_resumes_by_arithmetic(two_sets):
    a, b = two_sets
    stream = EventStream([a, b], split="train", epoch_length=30, seed=4, rank=1, world_size=2)
    full, head, state = _whole_then_interrupted(stream, stream.frames(1).batch(4), 3, 2)
    restarted = EventStream([a, b], split="train", epoch_length=30, seed=4, rank=1, world_size=2)
    restarted.load_state_dict(state)
    assert head + _labels(restarted.frames(1).batch(4)) == full


def test_an_epoch_without_a_batch_is_a_loud_error(two_sets):
    a, _ = two_sets
    with pytest.raises(PlanError, match="13 samples over 16 ranks leave no sample to each rank with remainder='drop'"):
        EventStream(a, split="train", rank=0, world_size=16, remainder="drop")
    stream = EventStream(a, split="train", rank=0, world_size=4, remainder="drop")  # 3 samples a rank
    with pytest.raises(PlanError, match="make no batch of 4 with partial=False"):  # when the stage is added
        stream.frames(1).batch(4, partial=False)
    padded = EventStream(a, split="train", rank=15, world_size=16)  # "pad": every rank gets one sample
    assert len(padded) == 1 and len(_keys(padded)) == 1


def test_more_workers_than_batches_changes_nothing(two_sets):
    a, _ = two_sets
    stream = EventStream(a, split="train", rank=1, world_size=7, shuffle=True).map(lambda s: s["__key__"]).batch(2, collate=list)
    alone = list(stream)
    assert len(alone) == len(stream) == 1
    stream.set_epoch(0)
    assert list(stream.loader(num_workers=3, multiprocessing_context="fork")) == alone


def test_remainder_error_refuses_an_uneven_split(two_sets):
    a, _ = two_sets
    with pytest.raises(PlanError, match="do not split evenly over 2"):
        EventStream(a, split="train", world_size=2, rank=0, remainder="error")


def test_state_of_another_plan_is_refused(two_sets):
    a, _ = two_sets
    state = EventStream(a, split="train", shuffle=True, seed=1).state_dict()
    with pytest.raises(ValueError, match="seed: saved 1, now 2"):
        EventStream(a, split="train", shuffle=True, seed=2).load_state_dict(state)


def test_loader_without_workers_counts_batches_for_resume(two_sets):
    a, _ = two_sets
    stream = EventStream(a, split="train", shuffle="sample", seed=9)
    loader = stream.frames(1).batch(2).loader(num_workers=0)
    full, head, state = _whole_then_interrupted(stream, loader, 1, 3)
    assert state["epoch"] == 1 and sum(end - start for start, end in state["remaining"]) == 13 - 6
    stream.load_state_dict(state)
    assert head + _labels(loader) == full
    assert stream.state_dict()["epoch"] == 2 and stream.state_dict()["remaining"] is None


def test_a_stream_made_before_init_process_group_is_refused(two_sets, monkeypatch):
    a, _ = two_sets
    stream = EventStream(a, split="train")  # not initialised yet: rank 0 of 1
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_rank", lambda: 1)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda: 2)
    with pytest.raises(PlanError, match="create the stream after init_process_group"):
        next(iter(stream))
    assert _keys(EventStream(a, split="train", rank=0, world_size=1))  # explicit arguments win


@pytest.mark.parametrize("partial", [True, False])
def test_resume_through_workers_yields_exactly_the_rest(two_sets, partial):
    a, _ = two_sets  # 13 samples in batches of 2 over 3 workers

    def make():
        stream = EventStream(a, split="train", shuffle=True, seed=9)
        return stream, stream.map(lambda s: s["__key__"]).batch(2, partial=partial, collate=list)

    stream, batches = make()
    loader = batches.loader(num_workers=3, multiprocessing_context="fork")
    stream.set_epoch(5)
    full = [key for batch in loader for key in batch]
    assert len(full) == len(set(full)) == (13 if partial else 12)
    for cut in (1, 4, 5):
        stream, batches = make()
        loader = batches.loader(num_workers=3, multiprocessing_context="fork")
        stream.set_epoch(5)
        iterator = iter(loader)
        head = [key for _ in range(cut) for key in next(iterator)]
        state = stream.state_dict()
        del iterator
        again, batches = make()
        again.load_state_dict(state)
        rest = [key for batch in batches.loader(num_workers=3, multiprocessing_context="fork") for key in batch]
        assert head + rest == full  # the same batches, in the same order, as the run not interrupted
