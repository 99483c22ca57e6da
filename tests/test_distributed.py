"""Two torch.distributed processes (gloo on 127.0.0.1), each with a DataLoader of 2 workers, over
shards of uneven sizes: exact epochs, equal batch counts, reshuffling, repeatability, resume, and
subsets (a 10% hold-out and the rest) taken inside the plan.

The two processes are forked once and run every scenario; each writes what its rank received
(sample numbers per batch, from the labels) to a JSON file that the test then checks.
"""

from __future__ import annotations

import json
import socket
from collections import Counter
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.utils.data import DataLoader

from shardgen.synthetic.shards import write_uneven_shards

SIZES = [13, 3, 9, 1, 20, 7, 2, 5]  # 60 samples; a 10% hold-out is 6
TOTAL = sum(SIZES)
WORKERS = 2
BATCH = 3
RESUME_AFTER = 4  # batches delivered before the "checkpoint"
# Ranks and DataLoader workers are forked: spawning re-imports torch in each (seconds apiece).
LOADER = {"num_workers": WORKERS, "multiprocessing_context": "fork"}


def _batches(loader) -> list[list[int]]:
    return [batch["label"].tolist() for batch in loader]


def _rank_main(rank: int, world: int, port: int, shards: str, out: str) -> None:
    from streams import EventStream, Subset

    torch.set_num_threads(1)  # a forked child must not use the parent's OpenMP pool
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    results: dict[str, object] = {}

    def make(remainder: str = "pad", seed: int = 0, **options) -> EventStream:
        return EventStream(shards, split="train", shuffle=True, seed=seed, remainder=remainder, **options)

    stream = make()
    batched = stream.frames(1).batch(BATCH)
    next(iter(batched))  # compiles the frame kernels once, before the DataLoader forks workers
    loader = batched.loader(**LOADER, persistent_workers=True)  # set_epoch must reach them
    results["len"] = len(loader)
    for name, epoch in (("pad_e0", 0), ("pad_e1", 1), ("pad_e0_again", 0)):
        stream.set_epoch(epoch)
        results[name] = _batches(loader)

    # No set_epoch, workers started afresh each pass: the loader moves to the next epoch itself.
    auto = make().frames(1).batch(BATCH).loader(**LOADER)
    results["auto_pass0"] = _batches(auto)
    results["auto_pass1"] = _batches(auto)

    # A plain DataLoader without workers reads the same batches (with workers it is refused).
    plain = make().frames(1).batch(BATCH)
    results["plain_pass0"] = _batches(DataLoader(plain, batch_size=None))

    drop = make("drop", seed=7)
    results["drop_e0"] = _batches(drop.frames(1).batch(BATCH).loader(**LOADER))

    # A 10% validation hold-out and the rest of the split, chosen inside the plan.
    hold_out = Subset.fraction(0.1, seed=3)
    results["holdout"] = _batches(make(subset=hold_out).frames(1).batch(2).loader(**LOADER))
    results["rest"] = _batches(make(subset=hold_out.complement()).frames(1).batch(BATCH).loader(**LOADER))

    # Resume: deliver a few batches of epoch 2, keep rank 0's state (a checkpoint), start a fresh
    # stream and loader from it (as after a restart) and take the rest.
    stream.set_epoch(2)
    results["full_e2"] = _batches(loader)
    stream.set_epoch(2)
    before = []
    for batch in loader:
        before.append(batch["label"].tolist())
        if len(before) == RESUME_AFTER:
            state = loader.state_dict()
            break
    states = [None] * world
    dist.all_gather_object(states, state)
    restarted = make()
    restarted.load_state_dict(states[0])
    results["before_e2"] = before
    results["after_e2"] = _batches(restarted.frames(1).batch(BATCH).loader(**LOADER))
    results["state"] = state
    Path(out, f"rank{rank}.json").write_text(json.dumps(results))
    del loader, auto  # stop the persistent workers before the process group goes
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[dict]:
    root = tmp_path_factory.mktemp("distributed")
    write_uneven_shards(root / "shards", SIZES)
    mp.start_processes(_rank_main, args=(2, _free_port(), str(root / "shards"), str(root)), nprocs=2, start_method="fork")
    return [json.loads((root / f"rank{rank}.json").read_text()) for rank in range(2)]


def _flat(batches: list[list[int]]) -> list[int]:
    return [number for batch in batches for number in batch]


def _epoch(runs: list[dict], name: str) -> list[int]:
    return _flat(runs[0][name]) + _flat(runs[1][name])


@pytest.mark.parametrize("name", ["pad_e0", "pad_e1", "auto_pass0", "auto_pass1", "full_e2", "plain_pass0"])
def test_every_sample_is_delivered_exactly_once(runs, name):
    assert sorted(_epoch(runs, name)) == list(range(TOTAL))


def test_drop_delivers_distinct_samples(runs):
    delivered = _epoch(runs, "drop_e0")
    assert len(delivered) == len(set(delivered)) == TOTAL


@pytest.mark.parametrize("name", ["pad_e0", "pad_e1", "drop_e0", "auto_pass0", "full_e2", "holdout", "rest"])
def test_every_rank_gets_the_same_number_of_batches(runs, name):
    assert len(runs[0][name]) == len(runs[1][name])
    sizes = [len(batch) for batch in runs[0][name]]
    assert sizes == [len(batch) for batch in runs[1][name]]


def test_len_of_the_loader_is_the_number_of_batches_of_a_rank(runs):
    for rank in runs:
        assert rank["len"] == len(rank["pad_e0"]) == -(-TOTAL // 2 // BATCH)


def test_order_changes_between_epochs_and_repeats_with_the_same_seed(runs):
    for rank in runs:
        assert rank["pad_e0"] != rank["pad_e1"]
        assert rank["pad_e0"] == rank["pad_e0_again"]


def test_without_set_epoch_each_pass_is_the_next_epoch(runs):
    for rank in runs:
        assert rank["auto_pass0"] == rank["pad_e0"]
        assert rank["auto_pass1"] == rank["pad_e1"]


def test_a_plain_dataloader_and_the_stream_loader_give_the_same_batches(runs):
    for rank in runs:
        assert rank["plain_pass0"] == rank["pad_e0"]


def test_a_hold_out_and_its_complement_split_the_data_exactly(runs):
    holdout, rest = _epoch(runs, "holdout"), _epoch(runs, "rest")
    assert len(holdout) == len(set(holdout)) == round(0.1 * TOTAL)
    assert len(rest) == len(set(rest)) == TOTAL - len(holdout)
    assert sorted(holdout + rest) == list(range(TOTAL))


def test_resume_yields_exactly_the_batches_not_yet_delivered(runs):
    for rank in runs:
        assert len(rank["before_e2"]) == RESUME_AFTER
        assert rank["before_e2"] == rank["full_e2"][:RESUME_AFTER]
        assert rank["state"]["epoch"] == 2
        assert rank["after_e2"] == rank["full_e2"][RESUME_AFTER:]
    assert Counter(_epoch(runs, "before_e2") + _epoch(runs, "after_e2")) == Counter(range(TOTAL))
