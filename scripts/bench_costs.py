"""A cost model of reading past one machine: the per-sample and per-byte costs of the index, the
epoch plan and a read, measured here, projected to ``--project-samples`` samples (default 10M) on
``--ranks`` ranks (default 1,000) reading from object storage.

    PYTHONPATH=. python scripts/bench_costs.py [--dir /tmp/bench_costs] [--repeat 3]

Measured (medians of ``--repeat``):

* **index**: ``index.samples`` bytes per sample and ``index.json`` bytes per shard; opening time
  and added resident memory (anonymous / file-backed) of ``load_index`` and of the catalog of a
  split (``streams.plan.build_catalog``) in fresh processes (``bench_index.measure``), at two index
  sizes, fitted as ``fixed + per-sample * N``;
* **plan**: ``streams.plan.plan_slot`` for one (rank, worker) slot, and ``read_runs`` grouping its
  reads, for each shuffle mode, at two sizes, with the peak of the arrays allocated
  (``tracemalloc``), and the read runs of the slot (one ranged request each against a remote store);
* **read**: raw samples (tar members, checksums verified, not decoded) through ``ShardSource``
  from local shards at two sample sizes, sequential (``shuffle=None``) and shuffled per sample, as
  ``per-sample + per-byte * size``.

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
from streams.dataset import ShardSource  # noqa: E402
from streams.plan import SlotPlan, build_catalog, plan_slot, read_runs  # noqa: E402
from streams.sources import ShardStore  # noqa: E402

PER_SHARD = 1_200
READ_CASES = {"16 kB": (16 << 10, 4000), "256 kB": (256 << 10, 400)}


def fit(sizes: tuple[int, int], values: tuple[float, float]) -> tuple[float, float]:
    """(fixed, per unit) of the line through two measurements."""
    slope = (values[1] - values[0]) / (sizes[1] - sizes[0])
    return values[0] - slope * sizes[0], slope


def index_costs(directory: Path, sizes: tuple[int, int], repeat: int) -> dict:
    results: dict[str, list[dict]] = {}
    on_disk = []
    for train in sizes:
        v2, _ = write_indexes(directory / f"n{train}", train, train // 25, PER_SHARD, old=False)  # a test split of 4%, as ES-ImageNet
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


def plan_costs(directory: Path, sizes: tuple[int, int], ranks: int, workers: int, repeat: int) -> dict:
    costs: dict = {}
    for shuffle in (None, "shard", "sample"):
        seconds, peaks, runs_per_slot, samples_per_slot = [], [], [], []
        for train in sizes:
            catalog = build_catalog([load_index(directory / f"n{train}" / "v2")], "train")
            plan_slot(catalog, seed=0, epoch=0, shuffle=shuffle)  # numba's kernels loaded (or compiled) first
            times = []
            for epoch in range(repeat):
                tracemalloc.start()
                started = time.perf_counter()
                plan = plan_slot(catalog, seed=0, epoch=epoch, rank=ranks // 2, world_size=ranks, worker=0,
                                 num_workers=workers, shuffle=shuffle)
                runs = read_runs(catalog, plan)
                times.append(time.perf_counter() - started)
                peaks.append(tracemalloc.get_traced_memory()[1])
                tracemalloc.stop()
            seconds.append(statistics.median(times))
            runs_per_slot.append(len(runs))
            samples_per_slot.append(len(plan))
        costs[shuffle] = {
            "seconds": fit(sizes, tuple(seconds)),
            "peak_bytes_per_sample": peaks[-1] / sizes[-1],
            "runs_per_sample": runs_per_slot[-1] / samples_per_slot[-1],
            "measured": (seconds, runs_per_slot, samples_per_slot),
        }
    return costs


def read_costs(directory: Path, repeat: int) -> dict:
    per_sample: dict[str | None, list[tuple[int, float]]] = {None: [], "sample": []}
    for name, (payload, count) in READ_CASES.items():
        folder = directory / "read" / name.replace(" ", "")
        write_case(folder, payload, count)
        for shuffle in per_sample:
            times = []
            for _ in range(repeat + 1):  # the first pass warms the page cache
                source = ShardSource([ShardStore(folder)], "train", shuffle=shuffle, seed=0, shuffle_buffer=0,
                                     remainder="drop", epoch_length=None, weights=None, rank=0, world_size=1)
                started = time.perf_counter()
                read = sum(1 for _ in source)
                times.append((time.perf_counter() - started) / read)
            per_sample[shuffle].append((payload, statistics.median(times[1:])))
    return {shuffle: fit(tuple(p for p, _ in values), tuple(t for _, t in values)) for shuffle, values in per_sample.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/bench_costs"))
    parser.add_argument("--sizes", type=int, nargs=2, default=(131_000, 1_310_000), help="index sizes measured")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--project-samples", type=int, default=10_000_000)
    parser.add_argument("--ranks", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=4, help="DataLoader workers per rank")
    parser.add_argument("--sample-kb", type=float, default=100.0, help="mean sample size of the projection")
    parser.add_argument("--chunk-mb", type=float, default=4.0, help="largest read run (streams.plan.read_runs: 4 MiB)")
    args = parser.parse_args()
    sizes = tuple(args.sizes)

    index = index_costs(args.dir, sizes, args.repeat)
    plan = plan_costs(args.dir, sizes, args.ranks, args.workers, args.repeat)
    read = read_costs(args.dir, args.repeat)

    print(f"measured at {sizes[0]:,} and {sizes[1]:,} samples ({PER_SHARD} per shard), medians of {args.repeat}:")
    print(f"  index.samples {index['samples_bytes']:.1f} bytes/sample; index.json {index['header_bytes_per_shard']:.0f} bytes/shard")
    for case in ("v2 load_index", "v2 catalog"):
        small, large = index[(case, "measured")]
        fixed, slope = index[(case, "seconds")]
        print(f"  {case}: open {small['seconds']:.3f} / {large['seconds']:.3f} s (fixed {fixed:.3f} s + {slope * 1e9:.0f} ns/sample); "
              f"anon {small['anon_mb']:.1f} / {large['anon_mb']:.1f} MB ({index[(case, 'anon_mb')][1] * 1e6:.1f} B/sample); "
              f"file-backed {small['file_mb']:.1f} / {large['file_mb']:.1f} MB ({index[(case, 'file_mb')][1] * 1e6:.1f} B/sample)")
    for shuffle, entry in plan.items():
        seconds, runs, samples = entry["measured"]
        print(f"  plan_slot + read_runs, shuffle={shuffle!s:<6} (rank {args.ranks // 2} of {args.ranks}, worker 0 of {args.workers}): "
              f"{seconds[0] * 1e3:.1f} / {seconds[1] * 1e3:.1f} ms ({entry['seconds'][1] * 1e9:.1f} ns/sample of the split), "
              f"peak {entry['peak_bytes_per_sample']:.1f} B/sample, {runs[1]} read runs for {samples[1]} samples")
    for shuffle, (fixed, per_byte) in read.items():
        print(f"  read shuffle={shuffle!s:<6}: {fixed * 1e6:.1f} us/sample + {per_byte * 1e9:.3f} ns/byte (local page cache)")

    n, ranks, workers = args.project_samples, args.ranks, args.workers
    shards = -(-n // PER_SHARD)
    per_rank = n // ranks
    sample_bytes = args.sample_kb * 1e3
    samples_mb = index["samples_bytes"] * n / 1e6
    header_mb = index["header_bytes_per_shard"] * shards / 1e6
    load_s = sum(index[("v2 catalog", "seconds")][i] * (n if i else 1) for i in (0, 1))
    anon_mb = sum(index[("v2 catalog", "anon_mb")][i] * (n if i else 1) for i in (0, 1))
    file_mb = sum(index[("v2 load_index", "file_mb")][i] * (n if i else 1) for i in (0, 1))
    per_request = max(1, int(args.chunk_mb * (1 << 20) // sample_bytes))
    print(f"\nprojection: {n:,} samples in {shards:,} shards of {PER_SHARD}, {args.sample_kb:.0f} kB each "
          f"({n * sample_bytes / 1e12:.1f} TB), {ranks:,} ranks x {workers} DataLoader workers, {per_rank:,} samples per rank")
    print("| quantity | shuffle=None / 'shard' | shuffle='sample' |")
    print("|---|---|---|")
    rows = [
        ("index files (index.json + index.samples)", f"{header_mb:.1f} MB + {samples_mb:.0f} MB", "same"),
        ("bytes each rank fetches to open the index", f"{header_mb + samples_mb:.0f} MB ({(header_mb + samples_mb) * ranks / 1e3:.0f} GB over all ranks)", "same"),
        ("open (load_index + catalog of the split) per process", f"{load_s:.2f} s", "same"),
        ("resident per process: catalog (anonymous)", f"{anon_mb:.0f} MB", "same"),
        ("resident per machine: mapped columns (shared page cache)", f"{file_mb:.0f} MB", "same"),
    ]
    for label, key in (("plan of one epoch per worker (each computes the whole sequence)", "seconds"),):
        rows.append((label, f"{sum(plan['shard'][key][i] * (n if i else 1) for i in (0, 1)):.2f} s",
                     f"{sum(plan['sample'][key][i] * (n if i else 1) for i in (0, 1)):.2f} s"))
    rows.append(("plan's peak memory per worker", f"{plan['shard']['peak_bytes_per_sample'] * n / 1e6:.0f} MB",
                 f"{plan['sample']['peak_bytes_per_sample'] * n / 1e6:.0f} MB"))
    shards_per_rank = per_rank / PER_SHARD + 1
    shards_drawn = shards * (1 - (1 - 1 / shards) ** per_rank)  # expected distinct shards of per_rank random samples
    requests_sequential = per_rank / per_request + shards_per_rank * workers
    rows += [
        ("LIST requests per epoch", "0 (the index names every shard)", "0"),
        ("shards each rank touches per epoch", f"{shards_per_rank:.1f}", f"{shards_drawn:,.0f} of {shards:,}"),
        ("ranged GETs per rank per epoch", f"{requests_sequential:,.0f} (runs of <= {args.chunk_mb:.0f} MiB)", f"{per_rank:,} (one per sample)"),
        ("ranged GETs per epoch, all ranks", f"{requests_sequential * ranks:,.0f}", f"{n:,}"),
        ("local read cost per sample (measured here)", f"{(read[None][0] + read[None][1] * sample_bytes) * 1e6:.0f} us",
         f"{(read['sample'][0] + read['sample'][1] * sample_bytes) * 1e6:.0f} us"),
    ]
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
