"""Event-to-frame integration with SpikingJelly's names, signatures and values.

Every function returns exactly SpikingJelly's frames (``spikingjelly.datasets``, 2.0) on every input
where SpikingJelly's function returns; the work is one compiled pass over the events instead of
one ``bincount`` per frame. Where SpikingJelly raises, these return the sensible frames:

* ``split_by="time"`` with an empty time window (sparse recordings, or a time span shorter than
  ``frames_num`` µs): that frame is all zeros; when the last window is empty, the last frame holds
  the events from the first one at or after that window's start (so when every window is empty,
  all events, as ``split_by="number"`` does when there are fewer events than frames).
* No events: ``frames_num`` zero frames (fixed number), or zero frames ``[0, 2, H, W]`` (duration).
* ``integrate_events_by_fixed_duration`` where the last event shares the first one's timestamp
  (all events at one timestamp, say): one frame.
* Events whose position ``p * H * W + y * W + x`` lies outside the frame are dropped (SpikingJelly
  raises); like SpikingJelly, an ``x >= W`` (or negative x) that stays inside the frame wraps to
  the next (previous) row.

Frames are float32 unless ``dtype`` says otherwise; integer dtypes saturate at their maximum.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, inline="always")
def _count(x, y, p, k, H, W, out, frame, limit):  # pragma: no cover - compiled
    """out[frame, p*H*W + y*W + x] += 1 for event k, inside the frame only, saturating at limit (> 0)."""
    position = np.int64(y[k]) * W + np.int64(x[k])
    if p[k] != 0:
        position += H * W
    if 0 <= position < out.shape[1]:
        if limit == 0 or out[frame, position] < limit:
            out[frame, position] += 1


@numba.njit(cache=True, nogil=True)
def _integrate_ranges(x, y, p, j_l, j_r, H, W, out, limit):  # pragma: no cover - compiled
    """Frame i counts the events of index range [j_l[i], j_r[i])."""
    for i in range(j_l.shape[0]):
        for k in range(np.uint64(j_l[i]), np.uint64(j_r[i])):  # unsigned: no negative-index fix-up
            _count(x, y, p, k, H, W, out, i, limit)


@numba.njit(cache=True, nogil=True)
def _integrate_by_count(x, y, p, H, W, out, limit):  # pragma: no cover - compiled
    """SpikingJelly's split_by="number" (the rule of ``cal_fixed_frames_number_segment_index``),
    computed in the kernel: building the index arrays costs small samples some 20% more time."""
    n = x.shape[0]
    frames_num = out.shape[0]
    per_frame = n // frames_num
    for i in range(frames_num):
        stop = n if i == frames_num - 1 else (i + 1) * per_frame
        for k in range(np.uint64(i * per_frame), np.uint64(stop)):  # unsigned: no negative-index fix-up
            _count(x, y, p, k, H, W, out, i, limit)


@numba.njit(cache=True, nogil=True)
def _integrate_sorted_windows(t, x, y, p, t0, dt, H, W, out, limit):  # pragma: no cover - compiled
    """Frame w counts the events with t0 + w*dt <= t < t0 + (w+1)*dt, the last frame all later ones.

    On sorted t this is what SpikingJelly computes for split_by="time" (dt = span // T) and for
    fixed durations (dt = duration). Returns False, leaving ``out`` partly filled, at the first
    event out of order: the caller then takes the general path.
    """
    last = out.shape[0] - 1
    window = 0
    edge = t0 + dt
    previous = t0
    for k in range(t.shape[0]):
        tk = np.int64(t[k])
        if tk < previous:
            return False
        previous = tk
        while window < last and tk >= edge:
            window += 1
            edge += dt
        _count(x, y, p, k, H, W, out, window, limit)
    return True


@numba.njit(cache=True, nogil=True)
def _is_sorted(t):  # pragma: no cover - compiled
    for k in range(1, t.shape[0]):
        if t[k] < t[k - 1]:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def _time_window_bounds(t, frames_num):  # pragma: no cover - compiled
    """SpikingJelly's time windows [t0 + i*dt, t0 + (i+1)*dt) in any event order: the first and
    last+1 index of the events in each (0, 0 when empty); the last frame runs to the end, from the
    first event at or after its window's start when that window is empty."""
    n = t.shape[0]
    j_l = np.zeros(frames_num, np.int64)
    j_r = np.zeros(frames_num, np.int64)
    t0 = np.int64(t[0])
    dt = (np.int64(t[n - 1]) - t0) // frames_num
    last_start = -1
    for k in range(n):
        d = np.int64(t[k]) - t0
        if d < 0:
            continue
        if dt > 0:
            w = d // dt
            if w < frames_num:
                if j_r[w] == 0:
                    j_l[w] = k
                j_r[w] = k + 1
            if w >= frames_num - 1 and last_start < 0:
                last_start = k
        elif last_start < 0:
            last_start = k
    if j_r[frames_num - 1] == 0:
        j_l[frames_num - 1] = last_start
    j_r[frames_num - 1] = n
    return j_l, j_r


@numba.njit(cache=True, nogil=True)
def _duration_bounds(t, t_min, duration, frames_num):  # pragma: no cover - compiled
    """SpikingJelly's frame edges: for each i, np.searchsorted((t - t_min) // duration, i) searched
    on its own (a plain bisection), which also fixes where unsorted events fall."""
    n = t.shape[0]
    j_l = np.zeros(frames_num, np.int64)
    j_r = np.full(frames_num, n, np.int64)
    for i in range(1, frames_num):
        lo, hi = 0, n
        while lo < hi:
            mid = lo + (hi - lo) // 2
            if (np.int64(t[mid]) - t_min) // duration < i:
                lo = mid + 1
            else:
                hi = mid
        j_r[i - 1] = lo
        j_l[i] = lo
    return j_l, j_r


def slice_bounds(starts, stops, n: int) -> tuple[np.ndarray, np.ndarray]:
    """What ``events[start:stop]`` selects for each pair, as int64 index ranges within ``[0, n]``
    (stop >= start): negative indices count from the end, as SpikingJelly's slices do. The
    kernels read events ``start .. stop - 1`` unchecked, so every range they get passes here."""

    starts, stops = np.asarray(starts), np.asarray(stops)
    if starts.shape != stops.shape or starts.ndim != 1:
        raise ValueError(f"range starts and stops must be 1-D arrays of one length, got shapes {starts.shape} and {stops.shape}")

    def clip(index):
        index = index.astype(np.int64)
        return np.where(index < 0, np.maximum(index + n, 0), np.minimum(index, n))

    starts, stops = clip(starts), clip(stops)
    return starts, np.maximum(stops, starts)


def _limit(dtype: np.dtype) -> int:
    """The saturation limit of frames of ``dtype`` (0: none)."""
    if dtype.kind in "iu":
        return int(np.iinfo(dtype).max)
    if dtype.kind == "f":
        return 0
    raise TypeError(f"frames dtype must be a float or integer type, got {dtype}")


def _frames(frames_num: int, H: int, W: int, dtype) -> tuple[np.ndarray, int]:
    """Zeroed frames [T, 2*H*W] and their saturation limit."""
    dtype = np.dtype(dtype)
    return np.zeros((frames_num, 2 * H * W), dtype), _limit(dtype)


def _event_arrays(events: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    t, x, y, p = (np.asarray(events[name]) for name in ("t", "x", "y", "p"))
    if not len(t) == len(x) == len(y) == len(p):  # the compiled kernels do not check their bounds
        raise ValueError(f"event fields of different lengths: t {len(t)}, x {len(x)}, y {len(y)}, p {len(p)}")
    return t, x, y, p


def cal_fixed_frames_number_segment_index(events_t: np.ndarray, split_by: str, frames_num: int) -> tuple[np.ndarray, np.ndarray]:
    """Index ranges [j_l[i], j_r[i]) of each frame, as SpikingJelly computes them.

    Where SpikingJelly raises (an empty time window), an empty window gets the range (0, 0) and
    the last frame the rule of the module docstring.
    """
    _check_frames_num(frames_num)
    events_t = np.asarray(events_t)
    n = events_t.size
    if split_by == "number":
        per_frame = n // frames_num
        j_l = np.arange(frames_num, dtype=np.int64) * per_frame
        j_r = j_l + per_frame
        j_r[-1] = n
        return j_l, j_r
    _check_split_by(split_by)
    if n == 0:
        return np.zeros(frames_num, dtype=np.int64), np.zeros(frames_num, dtype=np.int64)
    return _time_window_bounds(events_t, frames_num)


def integrate_segments(
    events: Mapping[str, np.ndarray], j_l: np.ndarray, j_r: np.ndarray, H: int, W: int, dtype=np.float32
) -> np.ndarray:
    """Frames ``[len(j_l), 2, H, W]``: frame i counts ``events[j_l[i]:j_r[i]]`` (Python's slice:
    negative indices from the end, clipped to the events)."""
    _, x, y, p = _event_arrays(events)
    out, limit = _frames(len(j_l), H, W, dtype)
    if len(x):
        _integrate_ranges(x, y, p, *slice_bounds(j_l, j_r, len(x)), H, W, out, limit)
    return out.reshape(-1, 2, H, W)


def integrate_events_segment_to_frame(
    x: np.ndarray, y: np.ndarray, p: np.ndarray, H: int, W: int, j_l: int = 0, j_r: int | None = None, *, dtype=np.float32
) -> np.ndarray:
    """One frame ``[2, H, W]`` of the events x[j_l:j_r], y[j_l:j_r], p[j_l:j_r] (channel 0: p == 0)."""
    x, y, p = np.asarray(x), np.asarray(y), np.asarray(p)
    start, stop, _ = slice(j_l, j_r).indices(len(x))
    out, limit = _frames(1, H, W, dtype)
    _integrate_ranges(x, y, p, np.array([start]), np.array([max(start, stop)]), H, W, out, limit)
    return out.reshape(2, H, W)


def integrate_events_by_fixed_frames_number(
    events: Mapping[str, np.ndarray],
    split_by: str,
    frames_num: int,
    H: int,
    W: int,
    *,
    dtype=np.float32,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """``frames_num`` frames ``[T, 2, H, W]``, split by event count or by time (SpikingJelly's rule).

    ``out``: a zeroed, C-contiguous ``[T, 2, H, W]`` array to count into (one row of a batch,
    say) instead of a new one; ``dtype`` is then ``out``'s.
    """
    _check_frames_num(frames_num)
    if out is None:
        frames, limit = _frames(frames_num, H, W, dtype)
    else:
        if out.shape != (frames_num, 2, H, W) or not out.flags.c_contiguous:
            raise ValueError(f"out must be a C-contiguous array of shape {(frames_num, 2, H, W)}, got {out.shape}")
        frames, limit = out.reshape(frames_num, 2 * H * W), _limit(out.dtype)
    t, x, y, p = _event_arrays(events)
    if split_by == "number":
        _integrate_by_count(x, y, p, H, W, frames, limit)
    else:
        _check_split_by(split_by)
        if len(t):
            t0 = int(t[0])
            if not _integrate_sorted_windows(t, x, y, p, t0, (int(t[-1]) - t0) // frames_num, H, W, frames, limit):
                frames[:] = 0
                _integrate_ranges(x, y, p, *_time_window_bounds(t, frames_num), H, W, frames, limit)
    return frames.reshape(frames_num, 2, H, W)


def integrate_events_by_fixed_duration(
    events: Mapping[str, np.ndarray], duration: int, H: int, W: int, *, dtype=np.float32
) -> np.ndarray:
    """Frames of ``duration`` µs from the first event on; the last frame runs to the last event."""
    if duration <= 0:
        raise ValueError(f"duration must be positive, got {duration}")
    t, x, y, p = _event_arrays(events)
    if len(t) == 0:
        return _frames(0, H, W, dtype)[0].reshape(0, 2, H, W)
    # SpikingJelly: ceil((t[-1] - min(t)) / duration) frames; min(t) is t[0] unless t is unsorted.
    t0 = int(t[0])
    out, limit = _frames(max(1, math.ceil((int(t[-1]) - t0) / duration)), H, W, dtype)
    if not _integrate_sorted_windows(t, x, y, p, t0, duration, H, W, out, limit):
        t_min = int(t.min())
        out, limit = _frames(max(1, math.ceil((int(t[-1]) - t_min) / duration)), H, W, dtype)
        _integrate_ranges(x, y, p, *_duration_bounds(t, t_min, duration, out.shape[0]), H, W, out, limit)
    return out.reshape(-1, 2, H, W)


def _check_frames_num(frames_num: int) -> None:
    if frames_num < 1:
        raise ValueError(f"frames_num must be positive, got {frames_num}")


def _check_split_by(split_by: str) -> None:
    if split_by not in ("number", "time"):
        raise NotImplementedError(f"split_by must be 'number' or 'time', got {split_by!r}")
