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
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time

import numpy as np
import torch

from streams.functional import representations as R
from streams.functional import torch_batched as TB


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--events", type=int, default=100_000, help="events per sample")
    parser.add_argument("--sensors", default="128x128,1280x720")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--cpu-repeat", type=int, default=3)
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


if __name__ == "__main__":
    main()
