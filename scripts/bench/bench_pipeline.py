"""Shards to padded frame batches: neuroshards vs SpikingJelly's frame cache vs Tonic's ToFrame.

Runs in the oracle environment (``bash scripts/setup.sh --oracle``)::

    .venv-oracle/bin/python scripts/bench/bench_pipeline.py                # ~300 samples of 100k events
    .venv-oracle/bin/python scripts/bench/bench_pipeline.py --quick        # 40 samples of 20k events

One synthetic dataset in N-Caltech101's raw layout (``shardgen.synthetic``, 240x180, ATIS 40-bit
files) feeds all three, in one process each (no DataLoader workers), T=16 frames split by event
count, batches of ``--batch`` padded as ``[B, T, 2, H, W]``:

* neuroshards: the raw files converted to shards once (``shardgen.convert``), then
  ``EventStream(shards).frames(16).batch(B)``; no per-configuration files.
* SpikingJelly: the raw files saved as its ``events_np`` (``load_ATIS_bin`` + ``np.savez_compressed``,
  as its N-Caltech101 class does), frames precomputed into its compressed float64 ``.npz`` cache
  with its own ``integrate_events_file_to_frames_file_by_fixed_frames_number``, then loaded as its
  dataset folder does (``load_npz_frames``) and batched with ``pad_sequence_collate``.
* Tonic: the raw files read by ``tonic.io.read_mnist_file`` (as ``tonic.datasets.NCALTECH101``
  does, without its per-sample x/y shift) and ``ToFrame(n_event_bins=16)`` on the fly, batched with
  ``tonic.collation.PadTensors``.

Reported: samples/s (median over ``--rounds`` full passes, torch limited to one thread), bytes on
disk, the one-off preparation time, and the ratio against SpikingJelly's cached loading.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import tonic
import torch
import torchvision
from spikingjelly.datasets import base as sj_base
from spikingjelly.datasets import utils as sj
from torch.utils.data import DataLoader, Dataset

import shardgen
from shardgen.synthetic import CALTECH_SENSOR, write_synthetic_ncaltech101
from streams import EventStream

FRAMES = 16
W, H = CALTECH_SENSOR


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def raw_files(raw: Path) -> list[Path]:
    return sorted(raw.rglob("*.bin"))


def prepare_ours(raw: Path, work: Path) -> Path:
    shards = work / "shards"
    shardgen.convert("ncaltech101", raw, shards, verify=False, progress=False)
    return shards


def prepare_spikingjelly(raw: Path, work: Path) -> Path:
    """SpikingJelly's two caches: events_np (per raw file) and the frames of one configuration."""
    events_np, frames = work / "sj" / "events_np", work / "sj" / f"frames_number_{FRAMES}_split_by_number"
    for path in raw_files(raw):
        relative = path.relative_to(raw).with_suffix(".npz")
        (events_np / relative).parent.mkdir(parents=True, exist_ok=True)
        (frames / relative).parent.mkdir(parents=True, exist_ok=True)
        events = sj.load_ATIS_bin(path)
        sj.np_savez(events_np / relative, t=events["t"], x=events["x"], y=events["y"], p=events["p"])
        sj.integrate_events_file_to_frames_file_by_fixed_frames_number(
            sj_base._load_events, str(events_np / relative), str((frames / relative).parent), "number", FRAMES, H, W
        )
    return frames


class TonicCaltech(Dataset):
    """The raw files read and integrated on the fly, as tonic.datasets.NCALTECH101 + ToFrame do."""

    def __init__(self, raw: Path):
        self.files = raw_files(raw)
        classes = sorted({path.parent.name for path in self.files})
        self.labels = [classes.index(path.parent.name) for path in self.files]
        self.transform = tonic.transforms.ToFrame(sensor_size=(W, H, 2), n_event_bins=FRAMES)
        self.dtype = tonic.datasets.NCALTECH101.dtype

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int):
        events = tonic.io.read_mnist_file(str(self.files[index]), dtype=self.dtype)
        return self.transform(events), self.labels[index]


def loaders(shards: Path, sj_frames: Path, raw: Path, batch: int) -> dict[str, DataLoader]:
    sj_folder = torchvision.datasets.DatasetFolder(str(sj_frames), loader=sj.load_npz_frames, extensions=(".npz",))
    return {
        "neuroshards": EventStream(shards, split="all").frames(FRAMES, split_by="number").batch(batch).loader(),
        "spikingjelly": DataLoader(sj_folder, batch_size=batch, collate_fn=sj.pad_sequence_collate),
        "tonic": DataLoader(TonicCaltech(raw), batch_size=batch, collate_fn=tonic.collation.PadTensors(batch_first=True)),
    }


def one_pass(loader: DataLoader) -> tuple[float, int]:
    started = time.perf_counter()
    samples = 0
    for batch in loader:
        samples += len(batch["label"] if isinstance(batch, dict) else batch[1])
    return time.perf_counter() - started, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=300, help="samples in the dataset (10 classes)")
    parser.add_argument("--events", type=int, default=100_000, help="events per sample")
    parser.add_argument("--quick", action="store_true", help="40 samples of 20k events")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="full passes per library; the median is reported")
    parser.add_argument(
        "--work",
        type=Path,
        default=Path(tempfile.gettempdir()) / "neuroshards-bench-pipeline",
        help="scratch folder, rebuilt on every run (default: %(default)s)",
    )
    args = parser.parse_args()
    # One process each, one core each: torch's intra-op threads (SpikingJelly's and Tonic's padding)
    # spin between calls and, on a small shared machine, slow every pipeline several times over.
    torch.set_num_threads(1)
    if args.quick:
        args.samples, args.events = 40, 20_000
    classes = 10
    per_class = max(1, args.samples // classes)

    if args.work.exists():
        shutil.rmtree(args.work)
    args.work.mkdir(parents=True)
    raw = write_synthetic_ncaltech101(args.work / "raw", classes=classes, per_class=per_class, events_per_sample=args.events)
    n = classes * per_class
    print(f"dataset: {n} samples x {args.events} events, {W}x{H}, T={FRAMES} (split by number), batch {args.batch}")

    prepared = {}
    for name, prepare in (("neuroshards", prepare_ours), ("spikingjelly", prepare_spikingjelly)):
        started = time.perf_counter()
        prepared[name] = prepare(raw, args.work)
        print(f"  prepare {name}: {time.perf_counter() - started:.1f} s (one-off)")
    shards, sj_frames = prepared["neuroshards"], prepared["spikingjelly"]

    libraries = loaders(shards, sj_frames, raw, args.batch)
    ours_first = next(iter(libraries["neuroshards"]))
    sj_first = next(iter(libraries["spikingjelly"]))
    same = torch.equal(ours_first["frames"], sj_first[0]) and torch.equal(ours_first["label"], sj_first[1])
    print(f"  first batch: neuroshards == SpikingJelly's cached frames: {same}")
    if not same:
        raise SystemExit("the two pipelines disagree: the comparison would be meaningless")

    seconds: dict[str, list[float]] = {name: [] for name in libraries}
    for _ in range(args.rounds):
        for name, loader in libraries.items():
            elapsed, count = one_pass(loader)
            assert count == n, f"{name} yielded {count} samples, expected {n}"
            seconds[name].append(elapsed)
    rates = {name: n / statistics.median(values) for name, values in seconds.items()}

    raw_bytes = folder_bytes(raw)
    disk = {
        "neuroshards": (folder_bytes(shards), "shards only; 0 bytes per frame configuration"),
        "spikingjelly": (
            folder_bytes(args.work / "sj"),
            f"events_np {folder_bytes(args.work / 'sj' / 'events_np') / 1e6:.1f} MB + this configuration's frames "
            f"{folder_bytes(sj_frames) / 1e6:.1f} MB (one more copy per configuration)",
        ),
        "tonic": (raw_bytes, "the raw files, integrated on every pass"),
    }
    print(f"\nmedian of {args.rounds} passes, one process each; raw files {raw_bytes / 1e6:.1f} MB")
    for name in libraries:
        size, note = disk[name]
        print(
            f"  {name:12s} {rates[name]:8.1f} samples/s ({1e3 / rates[name]:6.2f} ms/sample)  "
            f"{size / 1e6:8.1f} MB on disk: {note}"
        )
    speedup = rates["neuroshards"] / rates["spikingjelly"]
    print(
        f"  neuroshards / spikingjelly cached = {speedup:.1f}x (target >= 10x: {'ok' if speedup >= 10 else 'BELOW TARGET'}); "
        f"neuroshards / tonic = {rates['neuroshards'] / rates['tonic']:.1f}x"
    )


if __name__ == "__main__":
    main()
