"""Conversion throughput: shardgen.convert (1 and 2 workers) beside SpikingJelly's own conversion of
the same synthetic raw files and beside a plain copy of the same bytes, in one run.

    .venv/bin/python scripts/bench/bench_convert.py                       # a few minutes on 2 cores
    .venv/bin/python scripts/bench/bench_convert.py --scale 10 --repeat 5  # bigger files

SpikingJelly runs in another interpreter (``--sj-python``, default .venv-oracle/bin/python, made by ``bash scripts/setup.sh --oracle``;
``--sj-python none`` skips it): its ``create_raw_from_extracted`` (the ``events_np`` creation
path, with its defaults: compressed ``.npz``, a thread pool) is timed on the very files we
convert. Throughput counts the events and bytes of the raw files (every event is decoded by both
sides); each figure is the median of ``--repeat`` runs. Targets (issue 3): DVS128 Gesture at least
100x SpikingJelly, CIFAR10-DVS and N-MNIST at least 3x, each at least 1/3 of the plain copy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

TARGETS = {"dvs128gesture": 100.0, "cifar10dvs": 3.0, "nmnist": 3.0}


def make_raw(dataset: str, folder: Path, scale: float) -> int:
    """Write the synthetic raw files (the extracted layout both converters read); return the events."""
    import numpy as np

    from shardgen.synthetic import inivation as writers

    if dataset == "cifar10dvs":
        per_file = int(120_000 * scale)
        writers.cifar10dvs_tree(folder, as_zip=False, numbers=range(4), events=(per_file // 2, per_file * 3 // 2))
    elif dataset == "dvs128gesture":
        trials = {}
        for number in range(max(1, round(4 * scale))):
            rows = [(label % 11 + 1, 2_000_000 + 6_500_000 * label, 8_000_000 + 6_500_000 * label) for label in range(12)]
            trials[f"user{number + 1:02d}_fluorescent"] = ("train" if number % 4 != 3 else "test", rows)
        if not any(split == "test" for split, _rows in trials.values()):
            trials["user24_lab"] = ("test", trials.pop(next(iter(trials)))[1])
        writers.gesture_tree(folder, trials=trials, as_tar=False, rate_per_ms=12)
    elif dataset == "nmnist":
        from shardgen.synthetic import write_synthetic_nmnist

        write_synthetic_nmnist(folder, train_per_class=int(30 * scale), test_per_class=int(10 * scale), events_per_sample=4000)
    else:
        raise ValueError(dataset)
    return count_events(dataset, folder, np)


def count_events(dataset: str, folder: Path, np) -> int:
    from shardgen.formats.aedat2 import Aedat2Reader
    from shardgen.formats.aedat3 import Aedat3Reader

    total = 0
    for path in sorted(folder.rglob("*")):
        if dataset == "nmnist" and path.suffix == ".bin":
            total += path.stat().st_size // 5
        elif path.suffix == ".aedat":
            reader_class = Aedat2Reader if dataset == "cifar10dvs" else Aedat3Reader
            with open(path, "rb") as stream:
                total += sum(len(chunk["t"]) for chunk in reader_class(stream, source=str(path)).chunks())
    return total


def raw_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def plain_copy(folder: Path, target: Path) -> float:
    shutil.rmtree(target, ignore_errors=True)
    started = time.perf_counter()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            destination = target / path.relative_to(folder)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
    return time.perf_counter() - started


def ours(dataset: str, folder: Path, out: Path, workers: int) -> float:
    import shardgen

    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    shardgen.convert(dataset, folder, out, workers=workers, verify=False, progress=False)
    return time.perf_counter() - started


def spikingjelly(python: str, dataset: str, folder: Path, target: Path) -> float:
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    command = [python, __file__, "--sj-run", dataset, str(folder), str(target)]
    environment = {**os.environ, "PYTHONPATH": ""}
    result = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    if result.returncode:
        raise RuntimeError(f"SpikingJelly run failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])["seconds"]


def sj_run(dataset: str, folder: str, target: str) -> None:
    """In the SpikingJelly interpreter: time its create_raw_from_extracted on ``folder``."""
    import logging

    logging.disable(logging.CRITICAL)
    try:
        from spikingjelly.logger import logger

        logger.remove()
    except Exception:  # noqa: BLE001 - older versions log through logging
        pass
    from spikingjelly.datasets import cifar10_dvs, dvs128_gesture, n_mnist

    adapter = {"cifar10dvs": cifar10_dvs.CIFAR10DVS, "dvs128gesture": dvs128_gesture.DVS128Gesture, "nmnist": n_mnist.NMNIST}[
        dataset
    ]
    started = time.perf_counter()
    adapter.create_raw_from_extracted(Path(folder), Path(target))
    print(json.dumps({"seconds": time.perf_counter() - started}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="size factor of the synthetic raw files (default 1)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is reported")
    parser.add_argument("--datasets", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument(
        "--sj-python", default=str(ROOT / ".venv-oracle" / "bin" / "python"), help="interpreter with spikingjelly, or 'none'"
    )
    parser.add_argument("--sj-repeat", type=int, default=1, help="SpikingJelly runs per dataset (slow; default 1)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--sj-run", nargs=3, metavar=("DATASET", "EXTRACTED", "TARGET"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sj_run:
        sj_run(*args.sj_run)
        return

    results = []
    with tempfile.TemporaryDirectory(prefix="bench-convert-") as temporary:
        work = Path(temporary)
        for dataset in args.datasets:
            raw = work / dataset / "extract"
            raw.parent.mkdir(parents=True)
            events = make_raw(dataset, raw, args.scale)
            size = raw_bytes(raw)
            row = {"dataset": dataset, "events": events, "raw_mb": size / 1e6}
            row["copy_s"] = statistics.median(plain_copy(raw, work / dataset / "copy") for _ in range(args.repeat))
            for workers in (1, 2):
                row[f"ours{workers}_s"] = statistics.median(
                    ours(dataset, raw, work / dataset / "shards", workers) for _ in range(args.repeat)
                )
            if args.sj_python != "none":
                row["sj_s"] = statistics.median(
                    spikingjelly(args.sj_python, dataset, raw, work / dataset / "events_np") for _ in range(args.sj_repeat)
                )
            results.append(row)
            report([row], header=len(results) == 1)
    print()
    print(f"targets: our best vs SpikingJelly >= {', '.join(f'{k} {v:g}x' for k, v in TARGETS.items())}; ours >= 1/3 of copy")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


def report(rows: list[dict], header: bool) -> None:
    if header:
        print(
            f"{'dataset':<14} {'events':>9} {'raw MB':>7} | {'copy MB/s':>9} | {'ours w=1':>20} | {'ours w=2':>20} | "
            f"{'SpikingJelly':>20} | {'ours/SJ':>7} {'ours/copy':>9}"
        )
    for row in rows:

        def rate(seconds: float) -> str:
            return f"{row['events'] / seconds / 1e6:6.2f} Mev/s {row['raw_mb'] / seconds:6.1f} MB/s"

        best = min(row["ours1_s"], row["ours2_s"])
        sj = f"{rate(row['sj_s'])}" if "sj_s" in row else "-"
        speedup = f"{row['sj_s'] / best:6.1f}x" if "sj_s" in row else "-"
        print(
            f"{row['dataset']:<14} {row['events']:>9} {row['raw_mb']:>7.1f} | {row['raw_mb'] / row['copy_s']:>9.1f} | "
            f"{rate(row['ours1_s'])} | {rate(row['ours2_s'])} | {sj:>20} | {speedup:>7} {row['copy_s'] / best:>9.2f}"
        )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
