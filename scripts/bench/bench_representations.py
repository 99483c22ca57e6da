"""Representations: Tonic 1.7, ours and evlib 0.13 side by side on the same events.

Run under the oracle environment (Tonic; evlib where installed) with this checkout first on the path:

    .venv-oracle/bin/python scripts/bench/bench_representations.py

Events: ``--events`` (1 M) uniformly random events over one second on each sensor (DVS128's
128x128 and 1280x720), sorted by t, in Tonic's own ``events_struct`` (x, y int16, t int64, p bool).
Each representation is timed ``--repeat`` times in one process (numba compiled beforehand) and the
median printed. Tonic's averaged time surfaces loop over events in Python (some 50 µs each), so
that row uses the first ``--hats-events`` of the same events for both (0: all of them).
evlib (Polars) returns long tables; its time includes making the dense array Tonic's shape
(``densify_*``), as ours and Tonic's return dense arrays.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time

import numpy as np

from streams import transforms as ours

TONIC_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", bool)])


def make_events(n: int, width: int, height: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    events = np.zeros(n, TONIC_DTYPE)
    events["x"], events["y"] = rng.integers(0, width, n), rng.integers(0, height, n)
    events["t"] = np.sort(rng.integers(0, 1_000_000, n))
    events["p"] = rng.integers(0, 2, n)
    return events


def seconds(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def median_seconds(functions, repeat: int) -> list[float]:
    """Median time of each function, run in turn ``repeat`` times: interleaved, so that a change
    in the machine's load (it is shared) weighs on all of them alike."""
    times = [[seconds(f) for f in functions] for _ in range(repeat)]
    return [statistics.median(column) for column in zip(*times)]


def evlib_cases(events: np.ndarray, width: int, height: int, frames_window: int, n_frames: int, bins: int, dt: int, tau: float):
    """evlib's call for each representation it has (None where it has none), dense output."""
    try:
        import evlib.representations as ev
        import polars as pl
    except ImportError:
        return {}
    table = pl.DataFrame({"t": events["t"], "x": events["x"], "y": events["y"], "polarity": events["p"].astype(np.int8)})
    n_surfaces = max(int(np.floor((int(events["t"][-1] - events["t"][0]) - dt) / dt) + 1), 1)
    return {
        "stacked histogram (ToFrame time_window)": lambda: ev.densify_event_frame(
            ev.create_stacked_histogram(table, height, width, bins=n_frames, window_duration_ms=frames_window / 1000),
            n_frames,
            2,
            height,
            width,
        ),
        "ToVoxelGrid": lambda: ev.densify_voxel_grid(
            ev.create_voxel_grid(table, height, width, n_time_bins=bins), bins, height, width
        ),
        "ToTimesurface": lambda: ev.densify_time_surface(
            ev.create_time_surface(table, height, width, dt, tau), n_surfaces, 2, height, width, dt, tau, float(events["t"][0])
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--hats-events", type=int, default=200_000)
    parser.add_argument("--sensors", default="128x128,1280x720")
    args = parser.parse_args()
    import tonic.transforms as tonic

    frames_window, n_frames, bins, dt, tau = 50_000, 20, 10, 200_000, 50_000.0
    print(
        f"{args.events:,} events over 1 s per sensor; medians of {args.repeat}; ratio = Tonic / ours, evlib ratio = evlib / ours"
    )
    print(f"{'sensor':<10} {'representation':<42} {'Tonic s':>9} {'ours s':>9} {'ratio':>7} {'evlib s':>9} {'ratio':>7}")
    for sensor in args.sensors.split(","):
        width, height = (int(v) for v in sensor.split("x"))
        size = (width, height, 2)
        events = make_events(args.events, width, height)
        hats_events = events[: args.hats_events] if args.hats_events else events
        tonic_frames = tonic.ToFrame(size, n_time_bins=16)(events)
        cases = [
            ("ToFrame n_time_bins=10", tonic.ToFrame(size, n_time_bins=10), ours.ToFrame(size, n_time_bins=10), events),
            (
                "ToFrame event_count=100k, overlap=50k",
                tonic.ToFrame(size, event_count=100_000, overlap=50_000),
                ours.ToFrame(size, event_count=100_000, overlap=50_000),
                events,
            ),
            (
                "stacked histogram (ToFrame time_window)",
                tonic.ToFrame(size, time_window=frames_window),
                ours.ToFrame(size, time_window=frames_window),
                events,
            ),
            ("ToImage", tonic.ToImage(size), ours.ToImage(size), events),
            ("ToVoxelGrid", tonic.ToVoxelGrid(size, bins), ours.ToVoxelGrid(size, bins), events),
            ("ToTimesurface", tonic.ToTimesurface(size, dt, tau), ours.ToTimesurface(size, dt, tau), events),
            (
                f"ToAveragedTimesurface ({len(hats_events) / 1e6:g} M events)",
                tonic.ToAveragedTimesurface(size),
                ours.ToAveragedTimesurface(size),
                hats_events,
            ),
            ("ToBinaRep (16 frames, 2 x 8 bits)", tonic.ToBinaRep(2, 8), ours.ToBinaRep(2, 8), tonic_frames),
        ]
        evlib = evlib_cases(events, width, height, frames_window, n_frames, bins, dt, tau)
        for name, theirs, mine, data in cases:
            mine(data[:1000])  # compile
            functions = [functools.partial(theirs, data), functools.partial(mine, data)] + (
                [evlib[name]] if name in evlib else []
            )
            if name in evlib:
                evlib[name]()  # warm
            slow = name.startswith("ToAveragedTimesurface")  # Tonic once, ours beside it
            times = median_seconds(functions, 1 if slow else args.repeat)
            if slow:
                times[1] = median_seconds(functions[1:], args.repeat)[0]
            tonic_s, ours_s = times[:2]
            line = f"{sensor:<10} {name:<42} {tonic_s:9.4f} {ours_s:9.4f} {tonic_s / ours_s:6.1f}x"
            if name in evlib:
                line += f" {times[2]:9.4f} {times[2] / ours_s:6.1f}x"
            print(line, flush=True)


if __name__ == "__main__":
    main()
