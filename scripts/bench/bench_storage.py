"""Bytes per event: raw ATIS files vs our shards, uncompressed and zstd (issue 2's storage target).

    python scripts/bench/bench_storage.py [--raw DIR]

DIR is an N-MNIST-style tree (Train/<digit>/*.bin ...); by default the real recordings in
../shared/samples/nmnist are laid out in a temporary folder, or the synthetic dataset when absent.
Target: shards at most 1.5x the raw bytes per event without compression, below 1x with zstd.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import tempfile
from pathlib import Path

import shardgen
from shardgen.synthetic import write_synthetic_nmnist

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "samples" / "nmnist"


def real_or_synthetic(work: Path) -> tuple[Path, str]:
    if (SAMPLES / "labels.csv").is_file():
        root = work / "real"
        for row in csv.DictReader(open(SAMPLES / "labels.csv")):
            folder = root / row["split"].capitalize() / row["label"]
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(SAMPLES / row["file"], folder / row["file"].replace(".bs2", ".bin"))
        return root, f"real N-MNIST recordings from {SAMPLES}"
    return write_synthetic_nmnist(work / "synthetic"), "synthetic N-MNIST"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, help="an N-MNIST-style raw tree")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        raw, what = (args.raw, str(args.raw)) if args.raw else real_or_synthetic(work)
        raw_bytes = sum(p.stat().st_size for p in raw.rglob("*.bin"))
        print(f"{what}")
        for compression in (None, "zstd"):
            summary = shardgen.convert(
                "nmnist", raw, work / f"out-{compression}", compression=compression, verify=False, progress=False
            )
            events = summary.n_events
            print(
                f"  raw {raw_bytes / events:.3f} B/event | shards ({compression or 'uncompressed'}, tar included) "
                f"{summary.bytes / events:.3f} B/event = {summary.bytes / raw_bytes:.2f}x raw"
            )


if __name__ == "__main__":
    main()
