"""Opening an index of ES-ImageNet's size: index v2 (JSON header + memory-mapped sample columns)
against the JSON index v1 it replaced, side by side in one run; and ``import streams`` against
``import torch``.

    python scripts/bench/bench_index.py [--dir /tmp/bench_index] [--repeat 5]

Writes one synthetic index of ``--train + --test`` samples (default 1,260,000 + 50,000, ES-ImageNet's
size) in shards of ``--per-shard`` samples (default 1,200: 1,092 shards), with keys shaped like
ES-ImageNet's (``class123_n01440764_10026``), in both layouts:

* v2: ``neuroshards.index.save_index`` (``index.json`` + ``index.samples``);
* v1: the layout of commit b85c31b (``shardgen/index.py`` there), one JSON file with each shard's
  sample lists (keys, labels, n_events, offsets, sizes), written with ``indent=1`` as it did.

The shards are not written: opening reads only the index. Each measurement runs in a fresh Python
process that first imports torch and streams (the baseline), then opens the index, and reports the
seconds taken and the resident memory added (``/proc/self/status``: anonymous memory, which every
process pays for itself, and file-backed pages, which the processes of a machine share through the
page cache). Cases:

* ``v2 load_index``: ``neuroshards.index.load_index(dir)``;
* ``v2 catalog``: ``streams.plan.build_catalog([load_index(dir)], "train")``: the index and the
  catalog of the split, what a rank or worker holds to plan and locate its samples;
* ``v2 EventStream``: ``streams.EventStream(dir, split="train")``: the catalog, plus the source's
  fixed costs (its numba kernels loaded from numba's cache), everything a rank opens;
* ``v1 json.load``: the old ``load_index``: ``json.loads`` + the dataclasses of b85c31b;
* ``v1 catalog``: that plus the old ``streams.plan.build_catalog`` (b85c31b), which the old
  ``EventStream`` ran on opening.

Also the time of a random per-sample lookup (a row's key, shard, offset and size) in each, which
is array indexing in both: constant per sample. Import times: median wall time of
``python -c "import torch"`` and ``python -c "import torch, streams"``, and ``-X importtime``'s
cumulative time of ``streams`` imported after torch, with the ``shardgen`` modules it loaded.
Prints medians of ``--repeat`` runs and the ratios v1 / v2.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from neuroshards.index import DatasetIndex, SampleColumns, ShardInfo, save_index

ROOT = Path(__file__).resolve().parents[2]

# Run in each fresh process: the baseline, the case's opening, the lookups; prints one JSON line.
MEASURE = r"""
import json, sys, time
import numpy as np
import torch, streams

def memory():
    fields = {}
    for line in open("/proc/self/status"):
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
            fields[name] = int(value.split()[0]) * 1024
    return fields

case, directory = sys.argv[1], sys.argv[2]
before = memory()
started = time.perf_counter()
if case == "v2 load_index":
    from neuroshards.index import load_index
    index = load_index(directory)
    columns = index.samples
elif case == "v2 catalog":
    from neuroshards.index import load_index
    from streams.plan import build_catalog
    columns = build_catalog([load_index(directory)], "train")
elif case == "v2 EventStream":
    stream = streams.EventStream(directory, split="train")
    columns = stream.catalog
else:
    sys.path.insert(0, sys.argv[3])
    import bench_index
    index = bench_index.old_load_index(directory)
    columns = bench_index.old_build_catalog(index, "train") if case == "v1 catalog" else index
seconds = time.perf_counter() - started
after = memory()
rows = np.random.default_rng(0).integers(0, int(sys.argv[4]), size=20_000).tolist()  # rows of the train split
if case.startswith("v1") and case != "v1 catalog":
    # The old index: a row is (shard, position) found through the shards' first rows.
    starts = np.cumsum([0] + [shard["n_samples"] for shard in index["shards"]])
    def lookup(row):
        shard = int(np.searchsorted(starts, row, side="right")) - 1
        table = index["shards"][shard]["samples"]
        return table["keys"][row - starts[shard]], shard, table["offsets"][row - starts[shard]], table["sizes"][row - starts[shard]]
else:
    def lookup(row):
        return columns.key[row], columns.shard[row], columns.offset[row], columns.size[row]
lookup_started = time.perf_counter()
for row in rows:
    lookup(row)
lookup_us = (time.perf_counter() - lookup_started) / len(rows) * 1e6
print(json.dumps({"seconds": seconds, "before": before, "after": after, "lookup_us": lookup_us}))
"""


# The JSON index v1, as commit b85c31b wrote and read it (shardgen/index.py and streams/plan.py there).


def old_index_json(index: DatasetIndex) -> bytes:
    """``index`` in the v1 layout: each shard with its per-sample lists, ``json.dumps(indent=1)``."""
    samples, starts = index.samples, index.shard_starts
    keys, labels, events = samples.keys(), samples.label.tolist(), samples.n_events.tolist()
    offsets, sizes = samples.offset.tolist(), samples.size.tolist()
    shards = []
    for number, shard in enumerate(index.shards):
        rows = slice(int(starts[number]), int(starts[number + 1]))
        table = {
            "keys": keys[rows],
            "labels": labels[rows],
            "n_events": events[rows],
            "offsets": offsets[rows],
            "sizes": sizes[rows],
        }
        shards.append({**vars(shard), "samples": table})
    header = {**index.header(), "version": 1, "shards": shards}
    return (json.dumps(header, indent=1, sort_keys=False) + "\n").encode()


def old_load_index(directory: str) -> dict:
    """b85c31b's ``load_index``: the whole file parsed; its dataclasses only wrapped the parsed lists."""
    return json.loads((Path(directory) / "index.json").read_text())


def old_build_catalog(index: dict, split: str) -> dict:
    """b85c31b's ``build_catalog`` over one split: keys as a Python object array, the rest int arrays."""
    keys, shard_ids, offsets, sizes, starts = [], [], [], [], [0]
    for shard in index["shards"]:
        if shard["split"] != split:
            continue
        table = shard["samples"]
        keys.extend(table["keys"])
        shard_ids.append(np.full(len(table["keys"]), len(starts) - 1, dtype=np.int32))
        offsets.append(np.asarray(table["offsets"], dtype=np.int64))
        sizes.append(np.asarray(table["sizes"], dtype=np.int64))
        starts.append(starts[-1] + len(table["keys"]))
    return _Catalog(np.array(keys, dtype=object), np.concatenate(shard_ids), np.concatenate(offsets), np.concatenate(sizes))


class _Catalog:
    def __init__(self, keys, shard, offset, size):
        self.key, self.shard, self.offset, self.size = keys, shard, offset, size


# The synthetic index -------------------------------------------------------------------------------


def synthetic_index(train: int, test: int, per_shard: int) -> DatasetIndex:
    """ES-ImageNet-shaped: 1,000 classes, keys ``class<c>_n<wnid>_<n>``, ~60 kB samples."""
    rng = np.random.default_rng(0)
    shards, key_parts, label_parts = [], [], []
    for split, count in (("train", train), ("test", test)):
        labels = np.sort(rng.integers(0, 1000, size=count)).astype(np.int32)
        key_parts += [f"class{label}_n{1440764 + label * 997:08d}_{number}" for number, label in enumerate(labels.tolist())]
        label_parts.append(labels)
        for first in range(0, count, per_shard):
            n = min(per_shard, count - first)
            shards.append(ShardInfo(f"{split}-{len(shards):06d}.tar", split, n, 0, 0, "0" * 64))
    total = train + test
    n_events = rng.integers(20_000, 200_000, size=total)
    size = n_events * 6 + 1536  # ~6 bytes/event + tar headers
    shard = np.repeat(np.arange(len(shards), dtype=np.int32), [info.n_samples for info in shards])
    offset = np.zeros(total, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum([info.n_samples for info in shards])])
    for number, info in enumerate(shards):
        rows = slice(starts[number], starts[number + 1])
        offset[rows] = np.concatenate([[0], np.cumsum(size[rows])[:-1]])
        shards[number] = ShardInfo(
            info.path, info.split, info.n_samples, int(n_events[rows].sum()), int(size[rows].sum()) + 1024, info.sha256
        )
    samples = SampleColumns.build(
        {
            "key": key_parts,
            "label": np.concatenate(label_parts),
            "n_events": n_events,
            "shard": shard,
            "offset": offset,
            "size": size,
            "checksum": rng.integers(0, 2**63, size=total, dtype=np.uint64),
        }
    )
    return DatasetIndex(
        "esimagenet",
        [256, 256, 2],
        [f"class{c}" for c in range(1000)],
        shards,
        samples,
        generator={"name": "bench_index", "version": "0", "options": {}},
    )


def write_indexes(directory: Path, train: int, test: int, per_shard: int, old: bool = True) -> tuple[Path, Path]:
    """The synthetic index as v2 in ``directory/v2`` and (``old``) as v1 in ``directory/v1``."""
    v2, v1 = directory / "v2", directory / "v1"
    stamp = directory / f"made-{train}-{test}-{per_shard}-{'v1' if old else ''}"
    if not stamp.exists():
        index = synthetic_index(train, test, per_shard)
        v2.mkdir(parents=True, exist_ok=True)
        save_index(index, v2)
        if old:
            v1.mkdir(parents=True, exist_ok=True)
            (v1 / "index.json").write_bytes(old_index_json(index))
        stamp.touch()
    return v2, v1


# Measuring --------------------------------------------------------------------------------------------


def measure(case: str, directory: Path, train: int) -> dict:
    command = [sys.executable, "-c", MEASURE, case, str(directory), str(Path(__file__).resolve().parent), str(train)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if result.returncode:
        raise SystemExit(f"{case} failed:\n{result.stderr}")
    data = json.loads(result.stdout.strip().splitlines()[-1])
    before, after = data["before"], data["after"]
    return {
        "seconds": data["seconds"],
        "rss_mb": (after["VmRSS"] - before["VmRSS"]) / 1e6,
        "anon_mb": (after["RssAnon"] - before["RssAnon"]) / 1e6,
        "file_mb": (after["RssFile"] - before["RssFile"]) / 1e6,
        "lookup_us": data["lookup_us"],
    }


def wall_time(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    return time.perf_counter() - started


def import_profile() -> tuple[float, list[str]]:
    """``-X importtime``'s cumulative seconds of ``streams`` imported after torch, and the shardgen
    modules present afterwards."""
    code = "import torch; import streams, sys; print(sorted(m for m in sys.modules if m.split('.')[0] == 'shardgen'))"
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    cumulative = 0
    for line in result.stderr.splitlines():
        fields = line.split("|")
        if len(fields) == 3 and fields[2].rstrip() == " streams":
            cumulative = int(fields[1])
    return cumulative / 1e6, json.loads(result.stdout.strip().replace("'", '"'))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/bench_index"))
    parser.add_argument("--train", type=int, default=1_260_000)
    parser.add_argument("--test", type=int, default=50_000)
    parser.add_argument("--per-shard", type=int, default=1_200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    started = time.perf_counter()
    v2, v1 = write_indexes(args.dir, args.train, args.test, args.per_shard)
    sizes = {"v2": sum(path.stat().st_size for path in v2.iterdir()), "v1": (v1 / "index.json").stat().st_size}
    print(
        f"index of {args.train + args.test:,} samples in {-(-args.train // args.per_shard) + -(-args.test // args.per_shard):,} "
        f"shards (made or found in {time.perf_counter() - started:.1f} s): v2 {sizes['v2'] / 1e6:.1f} MB "
        f"(index.json + index.samples), v1 {sizes['v1'] / 1e6:.1f} MB"
    )

    cases = {"v2 load_index": v2, "v2 catalog": v2, "v2 EventStream": v2, "v1 json.load": v1, "v1 catalog": v1}
    runs: dict[str, list[dict]] = {case: [] for case in cases}
    for _ in range(args.repeat):  # alternating, so a busy moment of the machine hits every case alike
        for case, directory in cases.items():
            runs[case].append(measure(case, directory, args.train))
    medians = {
        case: {name: statistics.median(run[name] for run in results) for name in results[0]} for case, results in runs.items()
    }
    print(f"\nopening, medians of {args.repeat} fresh processes (after import torch, streams):")
    print(f"{'case':<16} {'open s':>8} {'+RSS MB':>8} {'anon MB':>8} {'file MB':>8} {'lookup us':>10}")
    for case, values in medians.items():
        print(
            f"{case:<16} {values['seconds']:>8.3f} {values['rss_mb']:>8.1f} {values['anon_mb']:>8.1f} "
            f"{values['file_mb']:>8.1f} {values['lookup_us']:>10.2f}"
        )
    for old, new in (("v1 json.load", "v2 load_index"), ("v1 catalog", "v2 catalog"), ("v1 catalog", "v2 EventStream")):
        o, n = medians[old], medians[new]
        print(
            f"{old} / {new}: open time {o['seconds'] / n['seconds']:.1f}x, added RSS "
            f"{o['rss_mb'] / max(n['rss_mb'], 0.1):.1f}x, added anonymous {o['anon_mb'] / max(n['anon_mb'], 0.1):.1f}x"
        )
    print("targets (issue 13): open <= 0.2 s, <= 50 MB added resident per process")

    torch_times, streams_times, profiles = [], [], []
    for _ in range(args.repeat):  # alternating, as above
        torch_times.append(wall_time("import torch"))
        streams_times.append(wall_time("import torch, streams"))
        profiles.append(import_profile())
    loaded = profiles[-1][1]
    print(
        f"\nimports, medians of {args.repeat}: python -c 'import torch' {statistics.median(torch_times):.3f} s, "
        f"'import torch, streams' {statistics.median(streams_times):.3f} s "
        f"(+{statistics.median(streams_times) - statistics.median(torch_times):.3f} s); "
        f"-X importtime cumulative of streams after torch {statistics.median(p[0] for p in profiles):.3f} s"
    )
    print(f"shardgen modules loaded by import streams: {len(loaded)} {loaded if loaded else ''}")
    print("target (issue 13): import streams adds <= 0.3 s over import torch and loads no shardgen module")


if __name__ == "__main__":
    main()
