"""streams.transforms against Tonic 1.7's transforms, side by side on the same events.

Run where Tonic 1.7 is installed (the test environment, ``bash scripts/setup.sh --test``, has it),
with this checkout first on the path:

    .venv/bin/python scripts/bench/bench_transforms.py [--events 1000000] [--only Denoise]

For each sensor (DVS128's 128x128, a 1280x720 one), 1M events in Tonic's own field layout
(x, y int16, t int64 µs over one second, p bool), uniform over the sensor but for 16 hot pixels
firing at 1 kHz: each transform runs ``--repeats`` times on a fresh copy, alternating with Tonic's
(whose Python loops run 3 times), and the table gives the median time of each and the ratio
Tonic / ours. Ours is warmed up once first
(numba compiles or loads its cache); Tonic's loops need no warm-up. The ratios, not the absolute
times, are the result: the machine is shared.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import tonic.transforms as T

import streams.transforms as S

EVENTS_STRUCT = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", bool)])  # tonic.io.events_struct


def make_events(n: int, sensor: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    events = np.zeros(n, dtype=EVENTS_STRUCT)
    events["x"] = rng.integers(0, sensor[0], n)
    events["y"] = rng.integers(0, sensor[1], n)
    events["t"] = np.sort(rng.integers(0, 1_000_000, n))
    events["p"] = rng.integers(0, 2, n)
    # 16 hot pixels firing at 1 kHz among the rest (what DropPixel(hot_pixel_frequency=) is for).
    hot = rng.choice(n, 16 * 1000, replace=False)
    events["x"][hot] = np.repeat(rng.integers(0, sensor[0], 16), 1000)
    events["y"][hot] = np.repeat(rng.integers(0, sensor[1], 16), 1000)
    return events


def median_seconds(theirs, ours, events: np.ndarray, repeats: int) -> tuple[float, float]:
    """Median seconds of each, the two run alternately so that load on the machine hits both."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for function, spent in zip((theirs, ours), times):
            copy = events.copy()
            start = time.perf_counter()
            function(copy)
            spent.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def cases(sensor: tuple[int, int, int]) -> list[tuple[str, object, object, bool]]:
    """(name, Tonic's transform, ours, whether Tonic loops over events in Python)."""
    target = (sensor[0] // 4, sensor[1] // 4)
    small = (sensor[0] // 16, sensor[1] // 16)
    return [
        ("Denoise", T.Denoise(filter_time=10_000), S.Denoise(filter_time=10_000), True),
        ("RefractoryPeriod", T.RefractoryPeriod(delta=1_000), S.RefractoryPeriod(delta=1_000), True),
        ("Decimation", T.Decimation(n=5), S.Decimation(n=5), True),
        (
            "EventDownsampling integrator",
            T.EventDownsampling(sensor, small, "integrator", dt=1.0, noise_threshold=2),
            S.EventDownsampling(sensor, small, "integrator", dt=1.0, noise_threshold=2),
            True,
        ),
        (
            "EventDownsampling differentiator",
            T.EventDownsampling(sensor, small, "differentiator", dt=1.0, noise_threshold=2, differentiator_time_bins=2),
            S.EventDownsampling(sensor, small, "differentiator", dt=1.0, noise_threshold=2, differentiator_time_bins=2),
            True,
        ),
        ("DropPixel hot pixels", T.DropPixel(hot_pixel_frequency=500), S.DropPixel(hot_pixel_frequency=500), False),
        (
            "Downsample",
            T.Downsample(time_factor=0.001, spatial_factor=0.25),
            S.Downsample(time_factor=0.001, spatial_factor=0.25),
            False,
        ),
        ("DropEvent", T.DropEvent(p=0.2), S.DropEvent(p=0.2), False),
        ("DropEventByTime", T.DropEventByTime(duration_ratio=0.2), S.DropEventByTime(duration_ratio=0.2), False),
        ("DropEventByArea", T.DropEventByArea(sensor, area_ratio=0.2), S.DropEventByArea(sensor, area_ratio=0.2), False),
        ("CenterCrop", T.CenterCrop(sensor, target), S.CenterCrop(sensor, target), False),
        ("RandomCrop", T.RandomCrop(sensor, target), S.RandomCrop(sensor, target), False),
        ("CropTime", T.CropTime(min=100_000, max=600_000), S.CropTime(min=100_000, max=600_000), False),
        ("SpatialJitter", T.SpatialJitter(sensor, clip_outliers=True), S.SpatialJitter(sensor, clip_outliers=True), False),
        ("TimeJitter", T.TimeJitter(std=100, sort_timestamps=True), S.TimeJitter(std=100, sort_timestamps=True), False),
        ("TimeSkew", T.TimeSkew(coefficient=1.1, offset=5), S.TimeSkew(coefficient=1.1, offset=5), False),
        ("RandomTimeReversal p=1", T.RandomTimeReversal(p=1.0), S.RandomTimeReversal(p=1.0), False),
        ("RandomFlipLR p=1", T.RandomFlipLR(sensor, p=1.0), S.RandomFlipLR(sensor, p=1.0), False),
        ("RandomFlipPolarity p=1", T.RandomFlipPolarity(p=1.0), S.RandomFlipPolarity(p=1.0), False),
        ("UniformNoise", T.UniformNoise(sensor, n=100_000), S.UniformNoise(sensor, n=100_000), False),
        ("MergePolarities", T.MergePolarities(), S.MergePolarities(), False),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=7, help="runs per transform (Python-loop Tonic transforms: 3)")
    parser.add_argument("--only", default=None, help="run the transforms whose name contains this")
    args = parser.parse_args()
    print(f"{args.events:,} events per sample; median of {args.repeats} runs (Tonic's Python loops: 3)\n")
    print(f"| {'transform':34} | {'sensor':9} | {'Tonic ms':>9} | {'ours ms':>8} | {'Tonic/ours':>10} |")
    print(f"|{'-' * 36}|{'-' * 11}|{'-' * 11}|{'-' * 10}|{'-' * 12}|")
    for sensor in ((128, 128, 2), (1280, 720, 2)):
        events = make_events(args.events, sensor)
        for name, theirs, ours, loops in cases(sensor):
            if args.only and args.only not in name:
                continue
            ours(events.copy())  # compile, or load numba's cache
            repeats = 3 if loops else args.repeats
            tonic_s, ours_s = median_seconds(theirs, ours, events, repeats)
            print(
                f"| {name:34} | {sensor[0]}x{sensor[1]:<5} | {tonic_s * 1e3:9.1f} | {ours_s * 1e3:8.2f} | "
                f"{tonic_s / ours_s:9.1f}x |",
                flush=True,
            )


if __name__ == "__main__":
    main()
