"""Two torch.distributed processes (gloo on 127.0.0.1), each with a DataLoader of 2 workers, over
shards of uneven sizes: exact epochs, equal batch counts, reshuffling, repeatability and resume.

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

from streaming_helpers import write_uneven_shards

SIZES = [13, 3, 9, 1, 20, 7, 2]  # 55 samples: 55 % (2 ranks x 2 workers) = 3
TOTAL = sum(SIZES)
WORKERS = 2
BATCH = 3
RESUME_AFTER = 4  # batches delivered before the "checkpoint"
# Ranks and DataLoader workers are forked: spawning re-imports torch in each (seconds apiece).
LOADER = {"num_workers": WORKERS, "multiprocessing_context": "fork"}


def _batches(loader) -> list[list[int]]:
    return [labels.tolist() for _frames, labels, _lengths in loader]


def _rank_main(rank: int, world: int, port: int, shards: str, out: str) -> None:
    from streams import EventStream

    torch.set_num_threads(1)  # a forked child must not use the parent's OpenMP pool
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    results: dict[str, object] = {}

    def make(remainder: str, seed: int = 0) -> EventStream:
        return EventStream(shards, split="train", shuffle=True, seed=seed, shuffle_buffer=4, remainder=remainder)

    stream = make("pad")
    batched = stream.frames(1).batch(BATCH)
    next(iter(batched))  # compiles the frame kernels once, before the DataLoader forks workers
    loader = batched.loader(**LOADER, persistent_workers=True)  # set_epoch must reach them
    for name, epoch in (("pad_e0", 0), ("pad_e1", 1), ("pad_e0_again", 0)):
        stream.set_epoch(epoch)
        results[name] = _batches(loader)

    # No set_epoch, workers started afresh each pass: the loader moves to the next epoch itself.
    auto = make("pad").frames(1).batch(BATCH).loader(**LOADER)
    results["auto_pass0"] = _batches(auto)
    results["auto_pass1"] = _batches(auto)

    drop = make("drop", seed=7)
    results["drop_e0"] = _batches(drop.frames(1).batch(BATCH).loader(**LOADER))

    # Resume: deliver a few batches of epoch 2, keep rank 0's state (a checkpoint), start a fresh
    # stream and loader from it (as after a restart) and take the rest.
    stream.set_epoch(2)
    results["full_e2"] = _batches(loader)
    stream.set_epoch(2)
    before = []
    for _frames, labels, _lengths in loader:
        before.append(labels.tolist())
        if len(before) == RESUME_AFTER:
            state = stream.state_dict()
            break
    states = [None] * world
    dist.all_gather_object(states, state)
    restarted = make("pad")
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


@pytest.mark.parametrize("name", ["pad_e0", "pad_e1", "auto_pass0", "auto_pass1", "full_e2"])
def test_pad_delivers_every_sample_once_plus_the_documented_padding(runs, name):
    counts = Counter(_epoch(runs, name))
    padding = -TOTAL % 2  # ranks are evened out; workers within a rank need not be
    assert set(counts) == set(range(TOTAL))
    assert sum(counts.values()) == TOTAL + padding
    assert sorted(counts.values()) == [1] * (TOTAL - padding) + [2] * padding


def test_drop_delivers_distinct_samples_less_the_documented_remainder(runs):
    delivered = _epoch(runs, "drop_e0")
    assert len(delivered) == len(set(delivered)) == TOTAL - TOTAL % 2


@pytest.mark.parametrize("name", ["pad_e0", "pad_e1", "drop_e0", "auto_pass0", "full_e2"])
def test_every_rank_gets_the_same_number_of_batches(runs, name):
    per_rank = -(-TOTAL // 2) if name != "drop_e0" else TOTAL // 2
    per_worker = [per_rank // WORKERS + (worker < per_rank % WORKERS) for worker in range(WORKERS)]
    assert len(runs[0][name]) == len(runs[1][name]) == sum(-(-n // BATCH) for n in per_worker)


def test_order_changes_between_epochs_and_repeats_with_the_same_seed(runs):
    for rank in runs:
        assert rank["pad_e0"] != rank["pad_e1"]
        assert rank["pad_e0"] == rank["pad_e0_again"]


def test_without_set_epoch_each_pass_is_the_next_epoch(runs):
    for rank in runs:
        assert rank["auto_pass0"] == rank["pad_e0"]
        assert rank["auto_pass1"] == rank["pad_e1"]


def test_resume_yields_exactly_the_samples_not_yet_delivered(runs):
    for rank in runs:
        assert len(rank["before_e2"]) == RESUME_AFTER
        assert rank["before_e2"] == rank["full_e2"][:RESUME_AFTER]
        assert rank["state"]["items"] == RESUME_AFTER and rank["state"]["epoch"] == 2
        remaining = Counter(_flat(rank["full_e2"])) - Counter(_flat(rank["before_e2"]))
        assert Counter(_flat(rank["after_e2"])) == remaining
    assert len(runs[0]["after_e2"]) == len(runs[1]["after_e2"])
