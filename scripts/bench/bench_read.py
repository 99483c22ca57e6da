"""Reading speed: our readers against webdataset's on the same shards, side by side in one run.

    python scripts/bench/bench_read.py [--dir /tmp/bench_read] [--repeats 5]

Writes shards of random events (16 kB and 1 MB records of a 128 x 128 sensor, each an
``events.msgpack`` member and a ``cls`` member, with an index), warms the page cache, then times raw sample iteration (tar members
as bytes, no decoding) of the same shards in one process, alternating the readers in each repeat:

* ``streaming, checked``: the epoch plan's sequential read (what ``EventStream`` reads without
  shuffling), every sample's xxh3 checksum verified before parsing;
* ``streaming, unchecked``: the same with the checks off (they cannot be turned off for users:
  this row prices them);
* ``decoded, checked`` / ``decoded, unchecked``: the same, each sample decoded into its event
  arrays (what a stream delivers to the frames stage);
* ``frames, checked`` / ``frames, unchecked``: the same, integrated into 16 frames (what training reads);
* ``shuffled epoch``: a fresh permutation of all samples, read in storage order within windows of
  64 (what ``EventStream(shuffle=True)`` reads);
* ``random access``: ``ShardDataset.raw(i)`` for every i in random order (one positioned read each);
* ``iter_samples``: our sequential tar reader without an index;
* ``webdataset WebDataset`` and ``webdataset tarfile_to_samples``: plain webdataset.

Prints the median samples/s and MB/s of each, the ratio over the faster webdataset reader, and
the cost of the checks (checked / unchecked).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import webdataset as wds

from neuroshards.index import DatasetIndex, SampleColumns, save_index
from neuroshards.record import encode_events
from neuroshards.sources import ShardStore
from neuroshards.tar import iter_samples
from shardgen.conversion.sink import EncodedSample, ShardSink
from streams import ShardDataset
from streams.plan import build_catalog
from streams.reader import SampleReader
from streams.stages import Frames, decode_sample

CASES = {"16 kB": (16 << 10, 6000), "1 MB": (1 << 20, 300)}
SENSOR = (128, 128, 2)


def write_case(directory: Path, payload: int, count: int) -> list[str]:
    index_path = directory / "index.json"
    if not index_path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(0)
        sink = ShardSink(directory, "train", max_samples=10**9, max_bytes=64 << 20)
        n = payload // 6  # events of a 128 x 128 sensor take ~6 bytes each in a record
        for number in range(count):
            events = {
                "t": np.sort(rng.integers(0, 10**6, n)),
                "x": rng.integers(0, 128, n),
                "y": rng.integers(0, 128, n),
                "p": rng.integers(0, 2, n),
            }
            key = f"s{number:07d}"
            record = encode_events(events, SENSOR, key=key)
            sink.add(EncodedSample(key, number % 10, "train", record, n, False))
        shards, tables = sink.close()
        samples = SampleColumns.concatenate(tables, range(len(tables)))
        save_index(DatasetIndex("bench", list(SENSOR), [str(c) for c in range(10)], shards, samples), directory)
    return sorted(str(path) for path in directory.glob("train-*.tar"))


to_frames = Frames(16).sample_frames


def readers(directory: Path, urls: list[str]) -> dict:
    store = ShardStore(directory)
    catalog = build_catalog([store.load_index()], "train")
    everything = np.arange(len(catalog))
    shuffled = np.random.default_rng(0).permutation(len(catalog))
    dataset = ShardDataset(directory, split="train")

    def sequential():
        for url in urls:
            with open(url, "rb", buffering=0) as stream:
                yield from iter_samples(stream, url)

    return {
        "neuroshards streaming, checked": lambda: SampleReader([store], catalog).read(everything),
        "neuroshards streaming, unchecked": lambda: SampleReader([store], catalog, verify=False).read(everything),
        # What a stream delivers: each sample decoded into event arrays (raw samples counted).
        "neuroshards decoded, checked": lambda: (
            raw for raw in SampleReader([store], catalog).read(everything) if decode_sample(raw)
        ),
        "neuroshards decoded, unchecked": lambda: (
            raw for raw in SampleReader([store], catalog, verify=False).read(everything) if decode_sample(raw)
        ),
        # What training reads: decoded, then integrated into 16 frames (SpikingJelly's rule).
        "neuroshards frames, checked": lambda: (
            raw for raw in SampleReader([store], catalog).read(everything) if to_frames(decode_sample(raw)) is not None
        ),
        "neuroshards frames, unchecked": lambda: (
            raw
            for raw in SampleReader([store], catalog, verify=False).read(everything)
            if to_frames(decode_sample(raw)) is not None
        ),
        "neuroshards shuffled epoch": lambda: SampleReader([store], catalog).read(shuffled),
        "neuroshards random access": lambda: (dataset.raw(i) for i in shuffled.tolist()),
        "neuroshards iter_samples": sequential,
        "webdataset WebDataset": lambda: iter(wds.WebDataset(urls, shardshuffle=False)),
        "webdataset tarfile_to_samples": lambda: iter(wds.DataPipeline(wds.SimpleShardList(urls), wds.tarfile_to_samples())),
    }


def consume(make) -> tuple[int, int, float]:
    started = time.perf_counter()
    samples = size = 0
    for sample in make():
        samples += 1
        size += len(sample["events.msgpack"])
    return samples, size, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/neuroshards_bench_read"))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"webdataset {wds.__version__}; median of {args.repeats} repeats, readers alternated; one process")
    for case, (payload, count) in CASES.items():
        directory = args.dir / case.replace(" ", "")
        urls = write_case(directory, payload, count)
        candidates = readers(directory, urls)
        rates: dict[str, list[tuple[float, float]]] = {name: [] for name in candidates}
        for repeat in range(args.repeats + 1):  # the first round warms the page cache
            for name, make in candidates.items():
                samples, size, seconds = consume(make)
                if samples != count:
                    raise SystemExit(f"{name} read {samples} samples of {count}")
                if repeat:
                    rates[name].append((samples / seconds, size / seconds / 1e6))
        print(f"\n{case} samples ({count} samples in {len(urls)} shards)")
        medians = {name: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v)) for name, v in rates.items()}
        best_wds = max(value[0] for name, value in medians.items() if name.startswith("webdataset"))
        for name, (samples_s, mb_s) in medians.items():
            ratio = "" if name.startswith("webdataset") else f"  {samples_s / best_wds:5.1f}x the faster webdataset reader"
            print(f"  {name:<34} {samples_s:>10.0f} samples/s {mb_s:>8.0f} MB/s{ratio}")
        for what in ("streaming", "decoded", "frames"):
            checked, unchecked = (medians[f"neuroshards {what}, {kind}"][0] for kind in ("checked", "unchecked"))
            print(
                f"  checksums cost {100 * (1 - checked / unchecked):.1f}% of the {what} read (checked/unchecked {checked / unchecked:.3f})"
            )


if __name__ == "__main__":
    main()
