"""Elastic resume: a checkpoint taken with N ranks resumes with M ranks (and another worker count):
the rest of the epoch is read exactly once over the new ranks. Real gloo process groups on
127.0.0.1, DataLoader workers forked, 2 -> 3 and 4 -> 2 processes."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from shardgen.synthetic.shards import write_uneven_shards

SIZES = [7, 11, 2, 16, 9, 15]  # 60 samples: even over 2, 3 and 4 ranks
TOTAL = sum(SIZES)
BATCH = 3


def _phase(rank: int, world: int, port: int, shards: str, out: str, workers: int, stop_after: int | None) -> None:
    from streams import EventStream

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    stream = EventStream(shards, split="train", shuffle=True, seed=11)
    loader = (
        stream.map(lambda s: s["label"]).batch(BATCH, collate=list).loader(num_workers=workers, multiprocessing_context="fork")
    )
    state_file = Path(out, "state.json")
    if stop_after is None:
        stream.load_state_dict(json.loads(state_file.read_text()))
    else:
        stream.set_epoch(4)
    delivered = []
    for batch in loader:
        delivered.append(list(batch))
        if len(delivered) == stop_after:
            if rank == 0:
                state_file.write_text(json.dumps(stream.state_dict()))
            break
    phase = "before" if stop_after is not None else "after"
    Path(out, f"{phase}{rank}.json").write_text(json.dumps({"batches": delivered, "len": len(loader)}))
    dist.barrier()
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(world: int, shards: Path, out: Path, workers: int, stop_after: int | None) -> list[dict]:
    mp.start_processes(
        _phase, args=(world, _free_port(), str(shards), str(out), workers, stop_after), nprocs=world, start_method="fork"
    )
    phase = "before" if stop_after is not None else "after"
    return [json.loads((out / f"{phase}{rank}.json").read_text()) for rank in range(world)]


@pytest.mark.parametrize("before_world, after_world, before_workers, after_workers", [(2, 3, 2, 1), (4, 2, 1, 2)])
def test_a_checkpoint_of_n_ranks_resumes_on_m_ranks(tmp_path, before_world, after_world, before_workers, after_workers):
    write_uneven_shards(tmp_path / "shards", SIZES)
    before = _run(before_world, tmp_path / "shards", tmp_path, before_workers, stop_after=2)
    after = _run(after_world, tmp_path / "shards", tmp_path, after_workers, stop_after=None)
    read_before = [label for rank in before for batch in rank["batches"] for label in batch]
    read_after = [label for rank in after for batch in rank["batches"] for label in batch]
    assert len(read_before) == before_world * 2 * BATCH
    assert sorted(read_before + read_after) == list(range(TOTAL))  # nothing missed, nothing twice
    counts = {len(rank["batches"]) for rank in after}
    assert len(counts) == 1  # the new ranks share the rest evenly
    assert {rank["len"] for rank in after} == {-(-TOTAL // after_world // BATCH)}  # len(): a whole epoch
