"""Batched representations on a device (streams.functional.torch_batched) against the CPU kernels.

Self-contained: generates its own events (uniformly random, sorted by t, over one second per
sample), so it runs anywhere the package imports:

    python scripts/bench/bench_device.py --device cuda        # a GPU
    python scripts/bench/bench_device.py --device cpu --batch 4 --events 50000   # a quick look on the CPU

For each sensor and representation it prints the median time of the batched call (synchronised),
events per second, the same batch through the CPU numpy kernels sample by sample, and the largest
difference between the two (0 for counts; float64 sums on CUDA may differ in the last bits).
Padding on the host and copying the events to the device are timed on their own line: the
DataLoader does that work in its workers (``batch_events``), and moves only events.

``--loader-samples N`` (0 to skip) then times whole epochs of a stream over N synthetic samples
on each sensor: 10 frames made on the CPU in the loader's workers and copied to the device,
against events padded in the workers and framed on the device. It prints samples per second and
the bytes a sample takes through the loader each way (frames: int16 planes; events: 17 bytes each).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from shardgen.synthetic.shards import write_uneven_shards
from streams import EventStream
from streams.functional import representations as R
from streams.functional import torch_batched as TB
from streams.transforms import ToFrame
from streams.transforms.device import collate_events, to_device


def make_samples(batch: int, n: int, width: int, height: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [
        {
            "t": np.sort(rng.integers(0, 1_000_000, n)),
            "x": rng.integers(0, width, n).astype(np.uint16),
            "y": rng.integers(0, height, n).astype(np.uint16),
            "p": rng.integers(0, 2, n).astype(np.uint8),
        }
        for _ in range(batch)
    ]


def median_seconds(function, repeat: int, device: torch.device) -> float:
    times = []
    for _ in range(repeat):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        function()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def first(result):
    return result[0] if isinstance(result, tuple) else result


def bench_sensor(sensor: str, args: argparse.Namespace, device: torch.device) -> None:
    width, height = (int(v) for v in sensor.split("x"))
    size = (width, height, 2)
    total = args.batch * args.events
    samples = make_samples(args.batch, args.events, width, height)
    padded = TB.pad_events(samples)
    pad_s = median_seconds(lambda: TB.pad_events(samples), args.cpu_repeat, torch.device("cpu"))
    pinned = {k: v.pin_memory() for k, v in padded.items()} if device.type == "cuda" else padded
    copy_s = median_seconds(lambda: {k: v.to(device, non_blocking=True) for k, v in pinned.items()}, args.repeat, device)
    print(
        f"{sensor:<10} {'pad on host, copy':<26} {copy_s * 1e3:9.2f} {total / copy_s / 1e6:9.1f} {pad_s * 1e3:9.2f} "
        f"{total / pad_s / 1e6:8.1f}   (copy to {device}; pad_events on the host)"
    )
    t, x, y, p, lengths = (padded[k].to(device) for k in ("t", "x", "y", "p", "lengths"))
    cases = [
        (
            "ToFrame n_time_bins=10",
            lambda: TB.to_frame(t, x, y, p, lengths, size, n_time_bins=10),
            lambda e: R.to_frame(e["t"], e["x"], e["y"], e["p"], size, n_time_bins=10),
        ),
        (
            "ToFrame time_window=50ms",
            lambda: TB.to_frame(t, x, y, p, lengths, size, time_window=50_000),
            lambda e: R.to_frame(e["t"], e["x"], e["y"], e["p"], size, time_window=50_000),
        ),
        ("ToImage", lambda: TB.to_image(x, y, p, lengths, size), lambda e: R.to_image(e["x"], e["y"], e["p"], size)),
        (
            "ToVoxelGrid 10 bins",
            lambda: TB.to_voxel_grid(t, x, y, p, lengths, size, 10),
            lambda e: R.to_voxel_grid(e["t"], e["x"], e["y"], e["p"], size, 10),
        ),
        (
            "ToTimesurface dt=200ms",
            lambda: TB.to_timesurface(t, x, y, p, lengths, size, 200_000, 50_000.0),
            lambda e: R.to_timesurface(e["t"], e["x"], e["y"], e["p"], size, 200_000, 50_000.0),
        ),
    ]
    for label, batched, kernel in cases:
        result = first(batched())  # warm up (and check below)
        cpu_results = [kernel(e) for e in samples]
        difference = max(
            float(np.abs(row[: len(c)].astype(np.float64) - c).max(initial=0))
            for row, c in zip(result.cpu().numpy(), cpu_results)
        )
        del result
        device_s = median_seconds(batched, args.repeat, device)
        cpu_s = median_seconds(functools.partial(run_all, kernel, samples), args.cpu_repeat, torch.device("cpu"))
        print(
            f"{sensor:<10} {label:<26} {device_s * 1e3:9.2f} {total / device_s / 1e6:9.1f} {cpu_s * 1e3:9.2f} "
            f"{total / cpu_s / 1e6:8.1f} {cpu_s / device_s:7.1f}x {difference:11.3g}",
            flush=True,
        )


def run_all(kernel, samples) -> list:
    return [kernel(e) for e in samples]


def bench_loader(sensor: str, args: argparse.Namespace, device: torch.device) -> None:
    """Samples per second of a training loop's input: frames from the workers, or events framed
    on the device. The median of three epochs after a first, untimed one."""
    width, height = (int(v) for v in sensor.split("x"))
    size, bins, count = (width, height, 2), 10, args.loader_samples
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_uneven_shards(
            root,
            [count // 8] * 8,
            labels=[0] * count,
            sensor_size=size,
            events=(args.events // 2, args.events * 3 // 2),
            duration=1_000_000,
        )
        to_frames = ToFrame(sensor_size=size, n_time_bins=bins)
        on_cpu = EventStream(root, split="train").transform(to_frames)
        on_device = EventStream(root, split="train").batch(args.loader_batch, collate=collate_events)
        options = {"num_workers": args.workers, "pin_memory": device.type == "cuda"}

        def frames_from_workers() -> None:
            for batch in on_cpu.batch(args.loader_batch).loader(**options):
                batch["frames"].to(device, non_blocking=True).float().sum()

        def events_from_workers() -> None:
            for batch in on_device.loader(**options):
                frames, _ = to_frames.on_batch(to_device(batch, device))
                frames.float().sum()

        sample_bytes = {"frames": bins * 2 * width * height * 2, "events": args.events * 17}
        for label, name, epoch in (
            ("frames made in the workers", "frames", frames_from_workers),
            ("events, framed on the device", "events", events_from_workers),
        ):
            epoch()
            seconds = median_seconds(epoch, 3, device)
            print(
                f"{sensor:<10} loader: {label:<30} {count / seconds:8.0f} samples/s, "
                f"{sample_bytes[name] / 1e6:6.2f} MB a sample ({args.workers} workers, batch {args.loader_batch})",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--events", type=int, default=100_000, help="events per sample")
    parser.add_argument("--sensors", default="128x128,1280x720")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--cpu-repeat", type=int, default=3)
    parser.add_argument("--loader-samples", type=int, default=512, help="samples of the loader test (0: skip it)")
    parser.add_argument("--loader-batch", type=int, default=8, help="batch size of the loader test")
    parser.add_argument("--workers", type=int, default=4, help="DataLoader workers of the loader test")
    args = parser.parse_args()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"device {device} ({name}), torch {torch.__version__}; {args.batch} samples x {args.events:,} events, "
        f"medians of {args.repeat} (CPU kernels: {args.cpu_repeat})"
    )
    print(
        f"{'sensor':<10} {'representation':<26} {'batch ms':>9} {'M ev/s':>9} {'CPU ms':>9} {'M ev/s':>8} {'speedup':>8} {'max |diff|':>11}"
    )
    for sensor in args.sensors.split(","):
        bench_sensor(sensor, args, device)
        if device.type == "cuda":
            torch.cuda.empty_cache()
    for sensor in args.sensors.split(",") if args.loader_samples else []:
        bench_loader(sensor, args, device)


if __name__ == "__main__":
    main()
