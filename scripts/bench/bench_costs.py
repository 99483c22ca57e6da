"""A cost model of reading past one machine: the per-sample and per-byte costs of the index, the
epoch plan and a read, measured here, projected to ``--project-samples`` samples (default 10M) on
``--ranks`` ranks (default 1,000) reading from object storage.

    python scripts/bench/bench_costs.py [--dir /tmp/bench_costs] [--repeat 3]

Measured (medians of ``--repeat``):

* **index**: ``index.samples`` bytes per sample and ``index.json`` bytes per shard; opening time
  and added resident memory (anonymous / file-backed) of ``load_index`` and of the catalog of a
  split (``streams.plan.build_catalog``) in fresh processes (``bench_index.measure``), at two index
  sizes, fitted as ``fixed + per-sample * N``;
* **plan**: what one (rank, DataLoader worker) slot computes each epoch (``streams.plan``:
  ``epoch_sequence``, ``rank_block``, ``worker_share``, ``read_order``, ``read_runs``), for each
  shuffle mode, at two sizes, with the peak of the arrays allocated (``tracemalloc``), measured with
  the projection's samples per rank; and for the whole rank the shards it touches and its read
  runs (one ranged request each against a remote store);
* **read**: raw samples (tar members, checksums verified, not decoded) through
  ``streams.reader.SampleReader`` from local shards at two sample sizes, in storage order and
  shuffled, as ``per-sample + per-byte * size``.

The projection multiplies these out. Object storage is not timed here: its requests are counted
(per rank and epoch, from the plan's read runs) and the bytes each rank fetches to open the index.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_index import measure, write_indexes  # noqa: E402
from bench_read import write_case  # noqa: E402

from neuroshards.index import load_index  # noqa: E402
from neuroshards.sources import ShardStore  # noqa: E402
from streams.plan import SHUFFLES, Layout, build_catalog, epoch_sequence, rank_block, read_order, read_runs, worker_share  # noqa: E402
from streams.reader import SampleReader  # noqa: E402

PER_SHARD = 1_200
READ_AHEAD = 64  # EventStream's read_ahead: reads are put in storage order within windows of this many samples
BATCH = 32
READ_CASES = {"16 kB": (16 << 10, 4000), "1 MB": (1 << 20, 200)}


def fit(sizes: tuple[int, int], values: tuple[float, float]) -> tuple[float, float]:
    """(fixed, per unit) of the line through two measurements."""
    slope = (values[1] - values[0]) / (sizes[1] - sizes[0])
    return values[0] - slope * sizes[0], slope


def index_costs(directory: Path, sizes: tuple[int, int], repeat: int) -> dict:
    results: dict[str, list[dict]] = {}
    on_disk = []
    for train in sizes:
        v2, _ = write_indexes(
            directory / f"n{train}", train, train // 25, PER_SHARD, old=False
        )  # a test split of 4%, as ES-ImageNet
        index = load_index(v2)
        on_disk.append(((v2 / "index.samples").stat().st_size / train, (v2 / "index.json").stat().st_size / len(index.shards)))
        for case in ("v2 load_index", "v2 catalog"):
            runs = [measure(case, v2, train) for _ in range(repeat)]
            results.setdefault(case, []).append({name: statistics.median(run[name] for run in runs) for name in runs[0]})
    costs = {"samples_bytes": on_disk[-1][0], "header_bytes_per_shard": on_disk[-1][1]}
    for case, (small, large) in results.items():
        for name in ("seconds", "anon_mb", "file_mb"):
            costs[(case, name)] = fit(sizes, (small[name], large[name]))
        costs[(case, "measured")] = (small, large)
    return costs


def split_plan(catalog, shuffle: str | None, epoch: int, layout: Layout, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """What every worker computes over the whole split (``streams.stream.PlannedSource``): the
    epoch's sequence and the rank's block of positions into it."""
    sequence = epoch_sequence(catalog, shuffle=shuffle, seed=0, epoch=epoch)
    return sequence, rank_block(np.arange(len(sequence), dtype=np.int64), layout, rank)


def slot_reads(catalog, sequence: np.ndarray, block: np.ndarray, layout: Layout, worker: int):
    """What it then computes for its own samples (``streams.reader.SampleReader.read``): its share
    of the block, the read order and the runs of byte-adjacent samples (one request each)."""
    ids = sequence[worker_share(block, layout, worker)]
    return ids, read_runs(catalog, ids, read_order(catalog, ids, READ_AHEAD))


def plan_costs(directory: Path, sizes: tuple[int, int], per_rank: int, workers: int, repeat: int) -> dict:
    """Per shuffle mode: the split-wide part at both sizes (fitted per sample of the split), then,
    at the larger size with ``per_rank`` samples per rank, one worker's part and the whole rank's
    shards and read runs."""
    costs: dict = {}
    for shuffle in SHUFFLES:
        seconds, peaks = [], []
        for train in sizes:
            catalog = build_catalog([load_index(directory / f"n{train}" / "v2")], "train")
            layout = Layout(world_size=max(1, train // per_rank), num_workers=workers, batch_size=BATCH)
            rank = layout.world_size // 2
            split_plan(catalog, shuffle, 0, layout, rank)  # numba's kernels loaded (or compiled) first
            times = []
            for epoch in range(repeat):
                tracemalloc.start()
                started = time.perf_counter()
                sequence, block = split_plan(catalog, shuffle, epoch, layout, rank)
                times.append(time.perf_counter() - started)
                peaks.append(tracemalloc.get_traced_memory()[1])
                tracemalloc.stop()
            seconds.append(statistics.median(times))
        slot_times = []
        for _ in range(repeat):
            started = time.perf_counter()
            slot_reads(catalog, sequence, block, layout, 0)
            slot_times.append(time.perf_counter() - started)
        shares = [slot_reads(catalog, sequence, block, layout, worker) for worker in range(workers)]
        rank_ids = np.concatenate([ids for ids, _ in shares])
        costs[shuffle] = {
            "seconds": fit(sizes, tuple(seconds)),
            "measured": seconds,
            "peak_bytes_per_sample": peaks[-1] / sizes[-1],
            "slot_seconds": statistics.median(slot_times),
            "rank": (len(rank_ids), len(np.unique(catalog.shard[rank_ids])), sum(len(runs) for _, runs in shares)),
            "world_size": layout.world_size,
        }
    return costs


def read_costs(directory: Path, repeat: int) -> dict:
    per_sample: dict[str, list[tuple[int, float]]] = {"sequential": [], "shuffled": []}
    for name, (payload, count) in READ_CASES.items():
        folder = directory / "read" / name.replace(" ", "")
        write_case(folder, payload, count)
        store = ShardStore(folder)
        catalog = build_catalog([store.load_index()], "train")
        orders = {"sequential": np.arange(count, dtype=np.int64), "shuffled": np.random.default_rng(0).permutation(count)}
        for mode, ids in orders.items():
            times = []
            for _ in range(repeat + 1):  # the first pass warms the page cache
                started = time.perf_counter()
                read = sum(1 for _ in SampleReader([store], catalog).read(ids, READ_AHEAD))
                times.append((time.perf_counter() - started) / read)
            per_sample[mode].append((payload, statistics.median(times[1:])))
    return {mode: fit(tuple(p for p, _ in values), tuple(t for _, t in values)) for mode, values in per_sample.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/bench_costs"))
    parser.add_argument("--sizes", type=int, nargs=2, default=(131_000, 1_310_000), help="index sizes measured")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--project-samples", type=int, default=10_000_000)
    parser.add_argument("--ranks", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=4, help="DataLoader workers per rank")
    args = parser.parse_args()
    sizes = tuple(args.sizes)
    n, ranks, workers = args.project_samples, args.ranks, args.workers
    per_rank = n // ranks
    index = index_costs(args.dir, sizes, args.repeat)
    plan = plan_costs(args.dir, sizes, per_rank, workers, args.repeat)
    read = read_costs(args.dir, args.repeat)
    sample_bytes = float(load_index(args.dir / f"n{sizes[1]}" / "v2").samples.size.mean())

    print(
        f"measured at {sizes[0]:,} and {sizes[1]:,} samples ({PER_SHARD} per shard, {sample_bytes / 1e3:.0f} kB "
        f"per sample on average), medians of {args.repeat}:"
    )
    print(
        f"  index.samples {index['samples_bytes']:.1f} bytes/sample; index.json {index['header_bytes_per_shard']:.0f} bytes/shard"
    )
    for case in ("v2 load_index", "v2 catalog"):
        small, large = index[(case, "measured")]
        fixed, slope = index[(case, "seconds")]
        print(
            f"  {case}: open {small['seconds']:.3f} / {large['seconds']:.3f} s (fixed {fixed:.3f} s + {slope * 1e9:.0f} ns/sample); "
            f"anon {small['anon_mb']:.1f} / {large['anon_mb']:.1f} MB ({index[(case, 'anon_mb')][1] * 1e6:.1f} B/sample); "
            f"file-backed {small['file_mb']:.1f} / {large['file_mb']:.1f} MB ({index[(case, 'file_mb')][1] * 1e6:.1f} B/sample)"
        )
    world = plan[None]["world_size"]
    print(
        f"  plan, per worker (batches of {BATCH}, read_ahead {READ_AHEAD}): the split's sequence and the rank's block "
        f"(epoch_sequence, rank_block), then its own reads (worker_share, read_order, read_runs) with "
        f"{per_rank:,} samples per rank ({world} ranks x {workers} workers at {sizes[1]:,})"
    )
    for shuffle, entry in plan.items():
        rank_samples, rank_shards, rank_runs = entry["rank"]
        print(
            f"    shuffle={shuffle!s:<6}: split part {entry['measured'][0] * 1e3:.1f} / {entry['measured'][1] * 1e3:.1f} ms "
            f"({entry['seconds'][1] * 1e9:.1f} ns per sample of the split, peak {entry['peak_bytes_per_sample']:.1f} B per "
            f"sample); own reads {entry['slot_seconds'] * 1e3:.1f} ms; the rank: {rank_samples:,} samples from "
            f"{rank_shards} shards in {rank_runs:,} read runs"
        )
    for mode, (fixed, per_byte) in read.items():
        print(f"  read {mode:<10}: {fixed * 1e6:.1f} us/sample + {per_byte * 1e9:.3f} ns/byte (SampleReader, local page cache)")

    shards = -(-n // PER_SHARD)
    samples_mb = index["samples_bytes"] * n / 1e6
    header_mb = index["header_bytes_per_shard"] * shards / 1e6

    def at(fitted: tuple[float, float]) -> float:
        return fitted[0] + fitted[1] * n

    print(
        f"\nprojection: {n:,} samples in {shards:,} shards of {PER_SHARD}, {sample_bytes / 1e3:.0f} kB each "
        f"({n * sample_bytes / 1e12:.1f} TB), {ranks:,} ranks x {workers} DataLoader workers, {per_rank:,} samples per rank"
    )
    print("| quantity | " + " | ".join(f"shuffle={shuffle!s}" for shuffle in plan) + " |")
    print("|---|" + "---|" * len(plan))

    def row(label: str, values) -> None:
        values = list(values)
        print(f"| {label} | " + " | ".join(values if len(values) > 1 else values * len(plan)) + " |")

    row("index files (index.json + index.samples)", [f"{header_mb:.1f} MB + {samples_mb:.0f} MB"])
    row(
        "bytes each rank fetches to open the index",
        [f"{header_mb + samples_mb:.0f} MB ({(header_mb + samples_mb) * ranks / 1e3:.0f} GB over the ranks)"],
    )
    row("open (load_index + catalog of the split), per process", [f"{at(index[('v2 catalog', 'seconds')]):.2f} s"])
    row("resident per process: the catalog (anonymous)", [f"{at(index[('v2 catalog', 'anon_mb')]):.0f} MB"])
    row("resident per machine: the mapped columns (shared)", [f"{at(index[('v2 load_index', 'file_mb')]):.0f} MB"])
    row("plan of one epoch, per worker", [f"{at(entry['seconds']) + entry['slot_seconds']:.2f} s" for entry in plan.values()])
    row("the plan's peak memory, per worker", [f"{entry['peak_bytes_per_sample'] * n / 1e6:.0f} MB" for entry in plan.values()])
    row("LIST requests per epoch", ["0 (the index names every shard)"])
    touched = []
    for shuffle, entry in plan.items():
        rank_samples, rank_shards, _ = entry["rank"]
        if shuffle == "sample":  # random samples of all shards: the expected number of distinct shards
            touched.append(shards * (1 - (1 - 1 / shards) ** per_rank))
        else:  # whole shards (or blocks of them) per rank: as measured at the same samples per rank
            touched.append(rank_shards)
    row("shards a rank touches per epoch", [f"{count:,.0f} of {shards:,}" for count in touched])
    gets = [entry["rank"][2] / entry["rank"][0] * per_rank for entry in plan.values()]
    row("ranged GETs per rank per epoch (without a shard cache)", [f"{count:,.0f}" for count in gets])
    row("ranged GETs per epoch, all ranks", [f"{count * ranks:,.0f}" for count in gets])
    row(
        "whole-shard GETs per epoch with cache_dir (each shard a rank touches, once)",
        [f"{count * ranks:,.0f} ({count * PER_SHARD * sample_bytes / 1e9:.0f} GB per rank)" for count in touched],
    )
    sequential, shuffled = (at_bytes[0] + at_bytes[1] * sample_bytes for at_bytes in (read["sequential"], read["shuffled"]))
    row(
        "local read per sample (measured here, page cache)",
        [f"{(sequential if shuffle in (None, 'shard') else shuffled) * 1e6:.0f} us" for shuffle in plan],
    )


if __name__ == "__main__":
    main()
