"""Frame integration speed: neuroshards vs SpikingJelly 2.0 vs Tonic 1.7, same events, one run.

Runs in the oracle environment (``bash scripts/setup.sh --oracle``)::

    .venv-oracle/bin/python scripts/bench/bench_integrate.py [--rounds 15] [--seconds 0.05]

Two samples, T=16: N-MNIST-like (5k events, 34x34) and DVS-Gesture-like (300k events, 128x128),
in three modes: fixed number of frames split by event count ("number") or by time ("time"), and
fixed duration (span / 16, so 16 frames too). Each library gets the events in its own native form,
built before timing (dict of arrays; tonic's structured array). Calls are timed in interleaved
rounds (every library once per round, so machine noise hits all alike); the median per-call time
over the rounds gives M events/s. Ratios are against SpikingJelly; the issue's targets are printed
beside them. Our frames are checked equal to SpikingJelly's before timing.

Tonic's binning differs, so its frames are not compared: ``n_event_bins`` spreads the remainder
events differently from SpikingJelly's "number" split, ``n_time_bins`` bins on [t_first, t_last]
without SpikingJelly's integer ``dt`` and last-frame remainder, and ``time_window`` with
``include_incomplete`` starts its windows like SpikingJelly's duration mode but returns int16.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import tonic.functional
from spikingjelly.datasets import utils as sj

import streams.functional as ours

SIZES = {  # name: (events, H, W, span µs)
    "small (N-MNIST-like, 5k ev, 34x34)": (5_000, 34, 34, 300_000),
    "medium (DVS-Gesture-like, 300k ev, 128x128)": (300_000, 128, 128, 6_000_000),
}
FRAMES = 16
TARGETS = {  # (size index, mode): minimum speed-up over SpikingJelly
    (0, "number"): 8.0,
    (0, "time"): 8.0,
    (0, "duration"): 8.0,
    (1, "number"): 2.0,
    (1, "time"): 5.0,
    (1, "duration"): 2.5,
}


def make_events(n: int, H: int, W: int, span: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Sorted timestamps with bursts of activity (as a moving edge gives), canonical dtypes."""
    rng = np.random.default_rng(seed)
    rate = 0.2 + rng.random(64) ** 2  # uneven activity across time
    t = np.sort(rng.choice(64, n, p=rate / rate.sum()) * (span // 64) + rng.integers(0, span // 64, n))
    return {
        "t": t.astype(np.int64),
        "x": rng.integers(0, W, n).astype(np.uint16),
        "y": rng.integers(0, H, n).astype(np.uint16),
        "p": rng.integers(0, 2, n).astype(np.uint8),
    }


def tonic_events(events: dict[str, np.ndarray]) -> np.ndarray:
    structured = np.zeros(len(events["t"]), dtype=[("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")])
    for name in "txyp":
        structured[name] = events[name]
    return structured


def calls(events: dict, H: int, W: int, duration: int) -> dict[str, dict[str, Callable[[], object]]]:
    """mode -> library -> a call producing the frames."""
    structured = tonic_events(events)
    sensor_size = (W, H, 2)
    return {
        "number": {
            "neuroshards": lambda: ours.integrate_events_by_fixed_frames_number(events, "number", FRAMES, H, W),
            "spikingjelly": lambda: sj.integrate_events_by_fixed_frames_number(events, "number", FRAMES, H, W),
            "tonic": lambda: tonic.functional.to_frame_numpy(structured, sensor_size, n_event_bins=FRAMES),
        },
        "time": {
            "neuroshards": lambda: ours.integrate_events_by_fixed_frames_number(events, "time", FRAMES, H, W),
            "spikingjelly": lambda: sj.integrate_events_by_fixed_frames_number(events, "time", FRAMES, H, W),
            "tonic": lambda: tonic.functional.to_frame_numpy(structured, sensor_size, n_time_bins=FRAMES),
        },
        "duration": {
            "neuroshards": lambda: ours.integrate_events_by_fixed_duration(events, duration, H, W),
            "spikingjelly": lambda: sj.integrate_events_by_fixed_duration(events, duration, H, W),
            "tonic": lambda: tonic.functional.to_frame_numpy(
                structured, sensor_size, time_window=duration, include_incomplete=True
            ),
        },
    }


def per_call_seconds(function: Callable[[], object], seconds: float) -> float:
    """Mean time of one call over a batch of calls lasting about ``seconds``."""
    started = time.perf_counter()
    function()
    single = time.perf_counter() - started
    repeats = max(1, int(seconds / max(single, 1e-7)))
    started = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - started) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds; the median is reported")
    parser.add_argument("--seconds", type=float, default=0.05, help="time per library per round")
    args = parser.parse_args()

    failures = 0
    print(f"T={FRAMES}; median of {args.rounds} interleaved rounds; M events/s (ratio vs SpikingJelly, target)")
    for size_index, (size, (n, H, W, span)) in enumerate(SIZES.items()):
        events = make_events(n, H, W, span)
        duration = -(-int(events["t"][-1] - events["t"][0]) // FRAMES)
        print(f"\n{size}: duration mode {duration} µs per frame")
        for mode, libraries in calls(events, H, W, duration).items():
            reference = libraries["spikingjelly"]()
            if not np.array_equal(libraries["neuroshards"](), reference):
                raise SystemExit(f"{size} {mode}: our frames differ from SpikingJelly's")
            samples: dict[str, list[float]] = {library: [] for library in libraries}
            for _ in range(args.rounds):
                for library, function in libraries.items():
                    samples[library].append(per_call_seconds(function, args.seconds))
            medians = {library: statistics.median(values) for library, values in samples.items()}
            speedup = medians["spikingjelly"] / medians["neuroshards"]
            target = TARGETS[(size_index, mode)]
            verdict = "ok" if speedup >= target else "BELOW TARGET"
            failures += speedup < target
            line = "  ".join(
                f"{library} {n / medians[library] / 1e6:8.1f} M ev/s ({medians[library] * 1e6:9.1f} µs)" for library in libraries
            )
            print(f"  {mode:8s} {line}")
            print(
                f"  {'':8s} neuroshards / spikingjelly = {speedup:5.1f}x (target >= {target}x: {verdict}); "
                f"neuroshards / tonic = {medians['tonic'] / medians['neuroshards']:5.1f}x"
            )
    raise SystemExit(1 if failures else 0)


if __name__ == "__main__":
    main()
