"""Event-to-frame integration with SpikingJelly's names, signatures and values.

Every function returns exactly SpikingJelly's frames (``spikingjelly.datasets``, 2.0) on every input
where SpikingJelly's function returns; the work is one compiled pass over the events instead of
one ``bincount`` per frame. Where SpikingJelly raises, these return the sensible frames:

* ``split_by="time"`` with an empty time window (sparse recordings, or a time span shorter than
  ``frames_num`` µs): that frame is all zeros; when every window is empty, the last frame holds
  all events (as ``split_by="number"`` does when there are fewer events than frames).
* No events: ``frames_num`` zero frames (fixed number), or zero frames ``[0, 2, H, W]`` (duration).
* ``integrate_events_by_fixed_duration`` on events that all share one timestamp: one frame.
* Events whose position ``p * H * W + y * W + x`` lies beyond the frame are dropped (SpikingJelly
  raises); like SpikingJelly, an ``x >= W`` that stays inside the frame wraps to the next row.

Frames are float32 unless ``dtype`` says otherwise; integer dtypes saturate at their maximum.
"""

from __future__ import annotations

import math
from typing import Mapping

import numba
import numpy as np

_EXACT_ACCUMULATORS = {np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int32), np.dtype(np.int64)}


@numba.njit(cache=True, nogil=True)
def _accumulate(x, y, p, j_l, j_r, H, W, out):  # pragma: no cover - compiled
    """out[i, p*H*W + y*W + x] += 1 for every event k in [j_l[i], j_r[i])."""
    plane = H * W
    size = 2 * plane
    for i in range(j_l.shape[0]):
        row = out[i]
        for k in range(j_l[i], j_r[i]):
            position = np.int64(y[k]) * W + np.int64(x[k])
            if p[k] != 0:
                position += plane
            if 0 <= position < size:
                row[position] += 1


@numba.njit(cache=True, nogil=True)
def _is_sorted(t):  # pragma: no cover - compiled
    for k in range(1, t.shape[0]):
        if t[k] < t[k - 1]:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def _time_window_bounds(t, frames_num):  # pragma: no cover - compiled
    """SpikingJelly's time windows [t0 + i*dt, t0 + (i+1)*dt): first and last+1 index of each, in
    any event order, plus the first index at or after the last window's start (its fallback)."""
    n = t.shape[0]
    j_l = np.zeros(frames_num, np.int64)
    j_r = np.zeros(frames_num, np.int64)
    seen = np.zeros(frames_num, np.bool_)
    t0 = t[0]
    dt = (t[n - 1] - t0) // frames_num
    last_start = n
    for k in range(n):
        d = t[k] - t0
        if d < 0:
            continue
        if dt > 0:
            w = d // dt
            if w < frames_num:
                if not seen[w]:
                    seen[w] = True
                    j_l[w] = k
                j_r[w] = k + 1
            if w >= frames_num - 1 and last_start == n:
                last_start = k
        elif last_start == n:
            last_start = k
    return j_l, j_r, seen, last_start


def cal_fixed_frames_number_segment_index(events_t: np.ndarray, split_by: str, frames_num: int) -> tuple[np.ndarray, np.ndarray]:
    """Index ranges [j_l[i], j_r[i]) of each frame, as SpikingJelly computes them.

    Where SpikingJelly raises (an empty time window), an empty window gets an empty range and the
    last frame keeps everything from its window's start on.
    """
    if frames_num < 1:
        raise ValueError(f"frames_num must be positive, got {frames_num}")
    events_t = np.asarray(events_t)
    n = events_t.size
    if split_by == "number":
        di = n // frames_num
        j_l = np.arange(frames_num, dtype=np.int64) * di
        j_r = j_l + di
        j_r[-1] = n
        return j_l, j_r
    if split_by != "time":
        raise NotImplementedError(f"split_by must be 'number' or 'time', got {split_by!r}")
    if n == 0:
        zeros = np.zeros(frames_num, dtype=np.int64)
        return zeros, zeros.copy()
    j_l, j_r, seen, last_start = _time_window_bounds(events_t.astype(np.int64, copy=False), frames_num)
    j_l[~seen] = 0
    j_r[~seen] = 0
    if not seen[-1]:
        j_l[-1] = last_start
    j_r[-1] = n
    return j_l, j_r


def _duration_segment_index(events_t: np.ndarray, duration: int) -> tuple[np.ndarray, np.ndarray]:
    n = events_t.size
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    if duration <= 0:
        raise ValueError(f"duration must be positive, got {duration}")
    t = events_t.astype(np.int64, copy=False)
    t_min = int(t.min())
    frames_num = max(1, math.ceil((int(t[-1]) - t_min) / duration))
    edges = t_min + np.arange(1, frames_num, dtype=np.int64) * duration
    if _is_sorted(t):
        rights = np.searchsorted(t, edges, side="left")
    else:  # SpikingJelly's own arithmetic, so unsorted input splits exactly as it does
        rights = np.searchsorted((t - t_min) // duration, np.arange(1, frames_num), side="left")
    j_l = np.concatenate(([0], rights)).astype(np.int64)
    j_r = np.concatenate((rights, [n])).astype(np.int64)
    return j_l, j_r


def integrate_segments(
    events: Mapping[str, np.ndarray], j_l: np.ndarray, j_r: np.ndarray, H: int, W: int, dtype=np.float32
) -> np.ndarray:
    """Frames ``[len(j_l), 2, H, W]``: frame i counts the events of index range [j_l[i], j_r[i])."""
    dtype = np.dtype(dtype)
    frames_num = len(j_l)
    accumulator = dtype if dtype in _EXACT_ACCUMULATORS else np.dtype(np.int64 if dtype.kind in "iu" else np.float64)
    out = np.zeros((frames_num, 2 * H * W), dtype=accumulator)
    if frames_num and len(events["t"]):
        _accumulate(
            _contiguous(events["x"]), _contiguous(events["y"]), _contiguous(events["p"]),
            np.ascontiguousarray(j_l, dtype=np.int64), np.ascontiguousarray(j_r, dtype=np.int64),
            H, W, out,
        )
    if accumulator != dtype:
        if dtype.kind in "iu":  # saturate instead of wrapping
            np.minimum(out, np.iinfo(dtype).max, out=out)
        out = out.astype(dtype)
    return out.reshape(frames_num, 2, H, W)


def _contiguous(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype == np.bool_:
        array = array.view(np.uint8)
    return np.ascontiguousarray(array)


def integrate_events_segment_to_frame(
    x: np.ndarray, y: np.ndarray, p: np.ndarray, H: int, W: int, j_l: int = 0, j_r: int | None = None, *, dtype=np.float32
) -> np.ndarray:
    """One frame ``[2, H, W]`` of the events x[j_l:j_r], y[j_l:j_r], p[j_l:j_r] (channel 0: p == 0)."""
    n = len(x)
    start, stop, _ = slice(j_l, j_r).indices(n)
    events = {"t": x, "x": x, "y": y, "p": p}
    return integrate_segments(events, np.array([start]), np.array([max(start, stop)]), H, W, dtype)[0]


def integrate_events_by_fixed_frames_number(
    events: Mapping[str, np.ndarray], split_by: str, frames_num: int, H: int, W: int, *, dtype=np.float32
) -> np.ndarray:
    """``frames_num`` frames ``[T, 2, H, W]``, split by event count or by time (SpikingJelly's rule)."""
    j_l, j_r = cal_fixed_frames_number_segment_index(events["t"], split_by, frames_num)
    return integrate_segments(events, j_l, j_r, H, W, dtype)


def integrate_events_by_fixed_duration(
    events: Mapping[str, np.ndarray], duration: int, H: int, W: int, *, dtype=np.float32
) -> np.ndarray:
    """Frames of ``duration`` µs from the first event on; the last frame runs to the last event."""
    j_l, j_r = _duration_segment_index(np.asarray(events["t"]), duration)
    return integrate_segments(events, j_l, j_r, H, W, dtype)
