"""Frames of 1-D (audio) sensors, ``[T, W]``: SpikingJelly's SHD integration (``spikingjelly.datasets.shd``).

The names are SpikingJelly's SHD functions without their leading underscore and the signatures
match (``W`` channels, no ``H``), so switching is a change of import. Events carry t in integer
µs and x (the channel); a polarity field, if any, is ignored, as SpikingJelly's SHD code does.

SpikingJelly computes SHD time windows in the precision of the times it is given: SHD and SSC
store float16 seconds, and ``split_by="time"`` and ``duration`` frames depend on float16
rounding (a window edge rounded down takes in the events at that float16 time). With the default
``time_dtype=np.float16`` these functions view t as those float16 seconds (exactly the file's
values for t >= 2**-9 s; ``shardgen.formats.containers``) and repeat SpikingJelly's arithmetic,
so the frames are SpikingJelly's. ``time_dtype=None`` applies the same rules in exact integer µs
instead, for recordings whose times were not float16 (N-TIDIGITS18). ``split_by="number"`` does
not look at time.

``duration`` is in µs here, as everywhere in ``streams``; SpikingJelly's SHD duration is in ms
(it multiplies seconds by 1000), so SpikingJelly's ``duration=d`` is ``duration=1000 * d`` here.

Where SpikingJelly raises, these return what the 2-D functions return (``streams.functional``):
an empty time window gives a zero frame (the last frame runs from its window's start to the end);
no events give ``frames_num`` zero frames (fixed number) or ``[0, W]`` (duration); events that all
share one time give one frame (duration); channels x >= W are dropped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from neuroshards.events import microseconds_to_float16_seconds

from .integrate import _check_frames_num, _integrate_ranges, _is_sorted, _limit, slice_bounds
from .integrate import cal_fixed_frames_number_segment_index as _index_by_number


def _check_time_dtype(time_dtype) -> None:
    if time_dtype is not None and np.dtype(time_dtype) != np.float16:
        raise ValueError(f"time_dtype must be np.float16 (SpikingJelly on SHD) or None (exact µs), got {time_dtype!r}")


def cal_fixed_frames_number_segment_index(
    events_t: np.ndarray, split_by: str, frames_num: int, *, time_dtype=np.float16
) -> tuple[np.ndarray, np.ndarray]:
    """Index ranges [j_l[i], j_r[i]) of each frame, as SpikingJelly's SHD code computes them.

    ``"time"``: windows [t0 + i*dt, t0 + (i+1)*dt) with dt = (t[-1] - t[0]) / frames_num, in float16
    seconds (windows can then overlap or leave gaps by rounding, as in SpikingJelly) or, with
    ``time_dtype=None``, exactly.
    """
    _check_time_dtype(time_dtype)
    if split_by != "time":
        return _index_by_number(events_t, split_by, frames_num)
    _check_frames_num(frames_num)
    n = np.asarray(events_t).size
    if n == 0:
        zeros = np.zeros(frames_num, dtype=np.int64)
        return zeros, zeros.copy()
    if time_dtype is None:
        t = np.asarray(events_t, dtype=np.int64)
        span, steps = int(t[-1] - t[0]), np.arange(frames_num + 1, dtype=np.int64)
        edges = t[0] - (-(steps * span) // frames_num)  # t0 + ceil(i * span / T): first µs of window i
        starts, ends = edges[:-1], edges[1:]
    else:
        t = microseconds_to_float16_seconds(events_t)
        dt = np.float16(t[-1] - t[0]) / np.float16(frames_num)
        starts = dt * np.arange(frames_num).astype(np.float16) + t[0]
        ends = starts + dt
    if _is_sorted(np.asarray(events_t, dtype=np.int64)):  # sorted µs stay sorted as seconds
        j_l = np.searchsorted(t, starts, side="left")
        j_r = np.searchsorted(t, ends, side="left")
        last_start = int(j_l[-1])
    else:  # first and last event inside each window, as SpikingJelly takes them
        j_l, j_r = np.zeros(frames_num, np.int64), np.zeros(frames_num, np.int64)
        for i in range(frames_num):
            inside = np.flatnonzero((t >= starts[i]) & (t < ends[i]))
            if inside.size:
                j_l[i], j_r[i] = inside[0], inside[-1] + 1
        later = np.flatnonzero(t >= starts[-1])
        last_start = int(j_l[-1]) if j_r[-1] > j_l[-1] else int(later[0]) if later.size else n
    empty = j_l >= j_r
    j_l, j_r = np.where(empty, 0, j_l).astype(np.int64), np.where(empty, 0, j_r).astype(np.int64)
    j_l[-1], j_r[-1] = last_start, n
    return j_l, j_r


def _duration_segment_index(events_t: np.ndarray, duration: int, time_dtype) -> tuple[np.ndarray, np.ndarray]:
    _check_time_dtype(time_dtype)
    n = np.asarray(events_t).size
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    if duration <= 0:
        raise ValueError(f"duration must be positive, got {duration}")
    if time_dtype is None:
        relative = np.asarray(events_t, dtype=np.int64) - int(events_t[0])
        step = int(duration)
        frames_num = max(1, -(-int(relative[-1]) // step))
    else:  # SpikingJelly: t * 1000 (ms) and the duration in ms, in float16
        milliseconds = duration / 1000
        step = int(milliseconds) if float(milliseconds).is_integer() else milliseconds
        relative = microseconds_to_float16_seconds(events_t) * 1000
        relative = relative - relative[0]
        frames_num = max(1, math.ceil(relative[-1] / step))
    rights = np.searchsorted(relative // step, np.arange(1, frames_num), side="left")
    j_l = np.concatenate(([0], rights)).astype(np.int64)
    j_r = np.concatenate((rights, [n])).astype(np.int64)
    return j_l, j_r


def integrate_channel_segments(
    events: Mapping[str, np.ndarray], j_l: np.ndarray, j_r: np.ndarray, W: int, dtype=np.float32
) -> np.ndarray:
    """Frames ``[len(j_l), W]``: frame i counts the channels x of ``events[j_l[i]:j_r[i]]``
    (Python's slice: negative indices from the end, clipped to the events)."""
    x = np.asarray(events["x"])
    dtype = np.dtype(dtype)
    out = np.zeros((len(j_l), W), dtype)  # one 1 x W plane: channels x >= W fall outside and are dropped
    if len(x):
        zeros = np.zeros(len(x), dtype=np.uint8)
        _integrate_ranges(x, zeros, zeros, *slice_bounds(j_l, j_r, len(x)), 1, W, out, _limit(dtype))
    return out


def integrate_events_segment_to_frame(
    x: np.ndarray, W: int, j_l: int = 0, j_r: int | None = None, *, dtype=np.float32
) -> np.ndarray:
    """One frame ``[W]``: how many of x[j_l:j_r] fall on each channel."""
    start, stop, _ = slice(j_l, j_r).indices(len(x))
    return integrate_channel_segments({"x": x}, np.array([start]), np.array([max(start, stop)]), W, dtype)[0]


def integrate_events_by_fixed_frames_number(
    events: Mapping[str, np.ndarray], split_by: str, frames_num: int, W: int, *, time_dtype=np.float16, dtype=np.float32
) -> np.ndarray:
    """``frames_num`` frames ``[T, W]``, split by event count or by time (SpikingJelly's SHD rule)."""
    j_l, j_r = cal_fixed_frames_number_segment_index(events["t"], split_by, frames_num, time_dtype=time_dtype)
    return integrate_channel_segments(events, j_l, j_r, W, dtype)


def integrate_events_by_fixed_duration(
    events: Mapping[str, np.ndarray], duration: int, W: int, *, time_dtype=np.float16, dtype=np.float32
) -> np.ndarray:
    """Frames of ``duration`` µs from the first event (SpikingJelly's SHD rule); the last runs to the end."""
    j_l, j_r = _duration_segment_index(events["t"], duration, time_dtype)
    return integrate_channel_segments(events, j_l, j_r, W, dtype)
