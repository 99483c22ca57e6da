"""Conversion throughput of the container formats: shardgen (1 and 2 workers) against SpikingJelly's
own preprocessing of the same synthetic raw files and against a plain copy of their bytes.

    .venv-oracle/bin/python scripts/bench/bench_container_convert.py [--repeat 3]

ASL-DVS (.mat -> SpikingJelly's npz), Bullying10K (pickled packets -> SpikingJelly's npz, a
per-event Python loop) and SHD (HDF5; SpikingJelly converts nothing, so its row is reading every
sample through its dataset class). Medians of ``--repeat`` runs, measured side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

import shardgen  # noqa: E402
from shardgen.synthetic import containers as writers  # noqa: E402


def make_asldvs(root: Path, files: int = 120, events: int = 20_000) -> Path:
    rng = np.random.default_rng(0)
    folder = root / "a"
    folder.mkdir(parents=True)
    for number in range(files):
        columns = {
            "ts": np.sort(rng.integers(0, 10**6, events)),
            "x": rng.integers(0, 240, events),
            "y": rng.integers(0, 180, events),
            "pol": rng.integers(0, 2, events),
        }
        (folder / f"a_{number:04d}.mat").write_bytes(writers._mat({k: v.astype(float) for k, v in columns.items()}))
    return root


def make_bullying10k(root: Path, files: int = 12, packets: int = 60, per_packet: int = 2_500) -> Path:
    rng = np.random.default_rng(1)
    for number in range(files):
        sizes = list(rng.integers(per_packet // 2, per_packet * 3 // 2, packets))
        array = np.empty(packets, dtype=object)
        for index, packet in enumerate(writers._packets(rng, sizes, start=0)):
            array[index] = packet
        path = root / "handshake" / "1" / f"dvSave-{number:04d}.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(writers._npy(array, allow_pickle=True))
    return root


def make_shd(root: Path, recordings: int = 1_500, spikes: int = 6_000) -> Path:
    rng = np.random.default_rng(2)
    data = [
        (
            np.sort(rng.uniform(0, 1.4, spikes)).astype(np.float16),
            rng.integers(0, 700, spikes).astype(np.uint16),
            int(rng.integers(0, 20)),
        )
        for _ in range(recordings)
    ]
    writers._write_heidelberg(root / "shd_train.h5", data, writers.SHD_KEYS)
    writers._write_heidelberg(root / "shd_test.h5", data[:10], writers.SHD_KEYS)
    return root


def raw_bytes(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def spikingjelly_asldvs(raw: Path, out: Path) -> None:
    from spikingjelly.datasets.asl_dvs import _read_mat_save_to_np

    out.mkdir(parents=True, exist_ok=True)
    for path in sorted((raw / "a").glob("*.mat")):
        _read_mat_save_to_np(path, out / (path.stem + ".npz"))


def spikingjelly_bullying10k(raw: Path, out: Path) -> None:
    from spikingjelly.datasets.bullying10k import _convert_npy_to_npz

    (out / "0").mkdir(parents=True, exist_ok=True)
    for path in sorted(raw.rglob("*.npy")):
        _convert_npy_to_npz(path, out, 0)


def spikingjelly_shd(raw: Path, out: Path) -> None:
    from spikingjelly.datasets.shd import SpikingHeidelbergDigits

    (out / "events_h5").mkdir(parents=True, exist_ok=True)
    for path in raw.glob("*.h5"):
        target = out / "events_h5" / path.name
        if not target.exists():
            target.symlink_to(path)
    dataset = SpikingHeidelbergDigits(str(out), train=True, data_type="event")
    for index in range(len(dataset)):
        dataset[index]


def plain_copy(raw: Path, out: Path) -> None:
    shutil.copytree(raw, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    with contextlib.suppress(Exception):
        from spikingjelly.logger import logger

        logger.remove()
    cases = [
        ("asldvs", make_asldvs, spikingjelly_asldvs, {}),
        ("bullying10k", make_bullying10k, spikingjelly_bullying10k, {"allow_pickle": True}),
        ("shd", make_shd, spikingjelly_shd, {}),
    ]
    print(f"{'dataset':<12} {'method':<22} {'median s':>9} {'M events/s':>11} {'MB/s (raw)':>11} {'vs SpikingJelly':>16}")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for name, make, spikingjelly, options in cases:
            raw = make(work / name / "raw")
            size = raw_bytes(raw)
            summary = shardgen.convert(name, raw, work / name / "probe", progress=False, verify=False, **options)
            events = summary.n_events
            methods = {
                "copy": lambda n, raw=raw: plain_copy(raw, work / name / f"copy{n}"),
                "spikingjelly": lambda n, raw=raw, sj=spikingjelly: sj(raw, work / name / f"sj{n}"),
                "shardgen, 1 worker": lambda n, raw=raw, o=options: shardgen.convert(
                    name, raw, work / name / f"w1_{n}", progress=False, verify=False, **o
                ),
                "shardgen, 2 workers": lambda n, raw=raw, o=options: shardgen.convert(
                    name, raw, work / name / f"w2_{n}", progress=False, verify=False, workers=2, **o
                ),
            }
            medians = {}
            for method, run in methods.items():
                with contextlib.redirect_stdout(io.StringIO()):
                    medians[method] = statistics.median(timed(lambda: run(n)) for n in range(args.repeat))
            for method, seconds in medians.items():
                speedup = medians["spikingjelly"] / seconds
                print(
                    f"{name:<12} {method:<22} {seconds:>9.3f} {events / seconds / 1e6:>11.2f} {size / seconds / 1e6:>11.1f} {speedup:>15.1f}x"
                )
            print(f"{'':<12} {events} events, {size / 1e6:.1f} MB raw")


if __name__ == "__main__":
    main()
