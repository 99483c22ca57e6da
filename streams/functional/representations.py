"""Tonic's event representations (``tonic.functional``, 1.7) as compiled kernels.

Each function returns Tonic 1.7's array (values, dtype and shape) on every input where Tonic
returns, including its odd rules: ``n_time_bins`` frames leave out the events at and after
``t[0] + n * ((t[-1] - t[0]) // n)`` (so always the last event), ``n_event_bins`` frames the last
``len % n`` events, time surfaces the events after the last whole ``dt`` window, and the voxel grid
has Tonic's extra channel axis ``[T, 1, H, W]``. Tonic's float arithmetic (float32 for the averaged
time surfaces, float64 elsewhere) is repeated operation for operation, so floats are equal, not
merely close. Events are ``(t, x, y, p)`` arrays; ``y`` is None for 1-D sensors (frames only).

Where Tonic raises, or silently corrupts the data, these do the sensible thing instead:

* **Events outside the sensor are left out** (``x`` outside ``[0, W)``, ``y`` outside ``[0, H)``,
  ``p`` outside ``[0, P)``; any ``p`` on a single-polarity sensor is polarity 0). Tonic raises on
  some (``x >= W`` in frames, ``p >= P``) and silently moves others to another pixel or channel
  (negative coordinates index from the far edge; the voxel grid's flat index sends ``x >= W`` to the
  next row). Slices and time ranges are still computed from all events, as Tonic does.
* **No events**: zero frames with Tonic's frame count for the slicing mode (Tonic's ``ToFrame``
  returns float64 zeros with W and H swapped; its functions raise), a zero voxel grid, one zero time
  surface (averaged time surfaces: zeros, as Tonic's).
* **Time surfaces of unsorted events whose first window is empty** count from ``t[0]`` (Tonic raises).
* **Frames count in int16, saturating at 32767** (Tonic's int16 counts wrap to negative numbers).
* **The voxel grid** of events that all share one timestamp puts them in bin 0 (Tonic divides by
  zero: NaN); polarity 0 is -1 whatever ``p``'s dtype (Tonic turns a bool ``p`` — its own
  ``events_struct`` — into +1 for every event, and a uint8 ``p`` raises); contributions to bins
  outside ``[0, T)`` (events before ``t[0]`` in unsorted input) are left out (Tonic wraps them to the
  last bins).
* **Frames on a single-polarity sensor** count every event in channel 0 (Tonic raises when ``p``
  has two values), and the input is never modified (Tonic sets ``events["p"] = 0`` in place).
* **Invalid parameters** raise ``ValueError`` with the reason (Tonic: assertions or
  ``UnboundLocalError``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numba
import numpy as np

from .integrate import slice_bounds

SensorSize = Sequence[int]

# Tonic 1.7's frames are int16; counts saturate here instead of wrapping.
FRAME_COUNT_MAX = np.iinfo(np.int16).max


# --------------------------------------------------------------------------------------------
# Event input
# --------------------------------------------------------------------------------------------


def event_fields(events) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """``(t, x, y, p)`` of a Tonic-style structured array or an events mapping; y None if absent."""
    names = events.dtype.names if isinstance(events, np.ndarray) else tuple(events)
    if names is None or not {"t", "x", "p"} <= set(names):
        raise ValueError(f"events need fields t, x and p (and y for 2-D sensors), got {names}")
    y = np.asarray(events["y"]) if "y" in names else None
    return np.asarray(events["t"]), np.asarray(events["x"]), y, np.asarray(events["p"])


def _require_y(y: np.ndarray | None, name: str) -> None:
    if y is None:
        raise ValueError(f"{name} needs events with y (a 2-D sensor); these have none")


def _contiguous(*fields):
    """The fields a kernel reads, contiguous: a structured array's fields are strided views, which
    the time-surface loops read 2-3x slower than a copy costs (None stays None). Frames and the
    voxel grid read them as they come: their passes over the records cost less than a copy."""
    return tuple(None if f is None else np.ascontiguousarray(f) for f in fields)


def infer_sensor_size(x: np.ndarray, y: np.ndarray | None, p: np.ndarray) -> tuple[int, int, int]:
    """Tonic's sensor size of a sample without one: (max x + 1, max y + 1, number of p values)."""
    if len(x) == 0:
        raise ValueError("cannot infer the sensor size of a sample without events; pass sensor_size")
    height = int(y.max()) + 1 if y is not None else 1
    return int(x.max()) + 1, height, len(np.unique(p))


# --------------------------------------------------------------------------------------------
# Slicing: index ranges [start, stop) of each slice, with tonic.slicers' arithmetic
# --------------------------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _searchsorted(t, keys):  # pragma: no cover - compiled
    """``np.searchsorted(t, keys)``: numba's copy of numpy's bisection (the same answer on unsorted
    t too), reading t in place where numpy would first copy a strided field."""
    return np.searchsorted(t, keys)


def time_windows(
    t_first,
    t_last,
    time_window: float,
    overlap: float = 0,
    include_incomplete: bool = False,
    start_time: float | None = None,
    end_time: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Start and end times of ``SliceByTime``'s windows for a recording from ``t_first`` to ``t_last``."""
    stride = time_window - overlap
    if not stride > 0:
        raise ValueError(f"time_window - overlap must be positive, got {time_window} - {overlap}")
    start = t_first if start_time is None else start_time
    end = t_last if end_time is None else end_time
    span = (end - start - time_window) / stride
    n_slices = max(int((np.ceil(span) if include_incomplete else np.floor(span)) + 1), 1)
    starts = np.arange(n_slices) * stride + start
    return starts, starts + time_window


def slice_by_time(
    t: np.ndarray,
    time_window: float,
    overlap: float = 0,
    include_incomplete: bool = False,
    start_time: float | None = None,
    end_time: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Windows of ``time_window`` every ``time_window - overlap`` from the first event (or
    ``start_time``) to the last (or ``end_time``): ``tonic.slicers.SliceByTime``. At least one."""
    starts, ends = time_windows(t[0], t[-1], time_window, overlap, include_incomplete, start_time, end_time)
    return slice_bounds(_searchsorted(t, starts), _searchsorted(t, ends), len(t))


def slice_by_count(
    n_events: int, event_count: int, overlap: int = 0, include_incomplete: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Slices of ``event_count`` events every ``event_count - overlap``: ``SliceByEventCount``."""
    stride = event_count - overlap
    if not stride > 0:
        raise ValueError(f"event_count - overlap must be positive, got {event_count} - {overlap}")
    count = min(event_count, n_events)
    span = (n_events - count) / stride
    n_slices = int((np.ceil(span) if include_incomplete else np.floor(span)) + 1)
    starts = (np.arange(n_slices) * stride).astype(int)
    return slice_bounds(starts, starts + count, n_events)


def time_bin_windows(t_first, t_last, bin_count: int, overlap: float = 0) -> tuple[np.ndarray, np.ndarray]:
    """Start and end times of ``SliceByTimeBins``' windows for a recording from ``t_first`` to ``t_last``."""
    if not overlap < 1:
        raise ValueError(f"overlap is a fraction of a bin and must be below 1, got {overlap}")
    window = (t_last - t_first) // bin_count * (1 + overlap)
    starts = np.arange(bin_count) * (window * (1 - overlap)) + t_first
    return starts, starts + window


def slice_by_time_bins(
    t: np.ndarray, bin_count: int, overlap: float = 0, last_bin_to_end: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``bin_count`` windows of ``(t[-1] - t[0]) // bin_count * (1 + overlap)``: ``SliceByTimeBins``.

    Tonic's windows stop short of the last event; ``last_bin_to_end=True`` (not Tonic's rule)
    stretches the last window to take every event up to the end of the array.
    """
    starts, ends = time_bin_windows(t[0], t[-1], bin_count, overlap)
    starts, stops = slice_bounds(_searchsorted(t, starts), _searchsorted(t, ends), len(t))
    if last_bin_to_end:
        stops[-1] = len(t)
    return starts, stops


def slice_by_event_bins(n_events: int, bin_count: int, overlap: float = 0) -> tuple[np.ndarray, np.ndarray]:
    """``bin_count`` slices of ``n_events // bin_count * (1 + overlap)`` events: ``SliceByEventBins``."""
    count = int(n_events // bin_count * (1 + overlap))
    stride = int(count * (1 - overlap))
    starts = np.arange(bin_count) * stride
    return slice_bounds(starts, starts + count, n_events)


def frame_slices(
    t: np.ndarray,
    time_window: float | None = None,
    event_count: int | None = None,
    n_time_bins: int | None = None,
    n_event_bins: int | None = None,
    overlap: float = 0,
    include_incomplete: bool = False,
    start_time: float | None = None,
    end_time: float | None = None,
    last_bin_to_end: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """The slices of ``to_frame`` for exactly one of its four slicing modes."""
    chosen = [
        name
        for name, value in (
            ("time_window", time_window),
            ("event_count", event_count),
            ("n_time_bins", n_time_bins),
            ("n_event_bins", n_event_bins),
        )
        if value is not None
    ]
    if len(chosen) != 1:
        raise ValueError(f"give exactly one of time_window, event_count, n_time_bins, n_event_bins; got {chosen or 'none'}")
    value = {"time_window": time_window, "event_count": event_count, "n_time_bins": n_time_bins, "n_event_bins": n_event_bins}[
        chosen[0]
    ]
    if not value > 0:
        raise ValueError(f"{chosen[0]} must be positive, got {value}")
    n = len(t)
    if n == 0:  # Tonic's ToFrame: one frame for the open-ended modes, the fixed count for the bins
        count = 1 if time_window is not None or event_count is not None else value
        return np.zeros(count, np.int64), np.zeros(count, np.int64)
    if time_window is not None:
        return slice_by_time(t, time_window, overlap, include_incomplete, start_time, end_time)
    if event_count is not None:
        return slice_by_count(n, event_count, overlap, include_incomplete)
    if n_time_bins is not None:
        return slice_by_time_bins(t, n_time_bins, overlap, last_bin_to_end)
    return slice_by_event_bins(n, n_event_bins, overlap)


# --------------------------------------------------------------------------------------------
# Frames, images, sparse tensors
# --------------------------------------------------------------------------------------------

# Loops over a range of events that does not start at 0 index with unsigned integers
# (``np.uint64``): numba adds a negative-index fix-up to every ``x[k]`` whose signed k it cannot
# prove non-negative, which made those loops 4-5x slower (1M events' pixels: 13 ms against 2.7).


@numba.njit(cache=True, nogil=True, inline="always")
def _pixel(x, y, p, k, W, H, P):  # pragma: no cover - compiled
    """Flat index (c*H + y)*W + x of event k, -1 outside the sensor; y None-like when H < 0."""
    xk = np.int64(x[k])
    yk = np.int64(y[k]) if H > 0 else np.int64(0)
    if xk < 0 or xk >= W or yk < 0 or yk >= max(H, 1):
        return -1
    c = np.int64(0)
    if P > 1:
        c = np.int64(p[k])
        if c < 0 or c >= P:
            return -1
    return (c * max(H, 1) + yk) * W + xk


@numba.njit(cache=True, nogil=True)
def _count_slices(x, y, p, starts, stops, W, H, P, out):  # pragma: no cover - compiled
    """out[i, pixel] += 1 for the events of index range [starts[i], stops[i]), saturating."""
    for i in range(starts.shape[0]):
        for k in range(np.uint64(starts[i]), np.uint64(stops[i])):  # unsigned: see above _pixel
            pixel = _pixel(x, y, p, k, W, H, P)
            if pixel >= 0 and out[i, pixel] < FRAME_COUNT_MAX:
                out[i, pixel] += 1


def count_slices(
    x: np.ndarray, y: np.ndarray | None, p: np.ndarray, starts: np.ndarray, stops: np.ndarray, sensor_size: SensorSize
) -> np.ndarray:
    """int16 frames ``[S, P, H, W]`` (``[S, P, W]`` without y): frame i counts ``events[starts[i]:stops[i]]``
    (Python's slice: negative indices from the end, clipped to the events).

    Not SpikingJelly's integration kernel (``integrate.py``): Tonic bounds each coordinate on its
    own and keeps P channels, where SpikingJelly bounds the flat position in two channels.
    """
    return _count_ranges(x, y, p, *slice_bounds(starts, stops, len(x)), sensor_size)


def _count_ranges(x, y, p, starts: np.ndarray, stops: np.ndarray, sensor_size: SensorSize) -> np.ndarray:
    """``count_slices`` of int64 index ranges already within the events (``slice_bounds``')."""
    W, H, P = (int(v) for v in sensor_size)
    frames = np.zeros((len(starts), P * H * W), np.int16)
    if len(x):  # the fields are read in place: copying them first costs more than strided reads
        _count_slices(x, x if y is None else y, p, starts, stops, W, -1 if y is None else H, P, frames)
    return frames.reshape((len(starts), P, W) if y is None else (len(starts), P, H, W))


def to_frame(
    t: np.ndarray,
    x: np.ndarray,
    y: np.ndarray | None,
    p: np.ndarray,
    sensor_size: SensorSize | None,
    time_window: float | None = None,
    event_count: int | None = None,
    n_time_bins: int | None = None,
    n_event_bins: int | None = None,
    overlap: float = 0,
    include_incomplete: bool = False,
    start_time: float | None = None,
    end_time: float | None = None,
    last_bin_to_end: bool = False,
) -> np.ndarray:
    """Tonic's ``ToFrame``: int16 frames ``[T, P, H, W]`` (``[T, P, W]`` for 1-D sensors).

    ``sensor_size`` None infers it as Tonic does. ``last_bin_to_end`` (not Tonic's rule) makes the
    last ``n_time_bins`` frame take the events that Tonic's leaves out.
    """
    if sensor_size is None:
        sensor_size = infer_sensor_size(x, y, p)
    starts, stops = frame_slices(
        t, time_window, event_count, n_time_bins, n_event_bins, overlap, include_incomplete, start_time, end_time, last_bin_to_end
    )
    return _count_ranges(x, y, p, starts, stops, sensor_size)  # frame_slices' ranges are slice_bounds'


def to_image(x: np.ndarray, y: np.ndarray | None, p: np.ndarray, sensor_size: SensorSize) -> np.ndarray:
    """Tonic's ``ToImage``: every event counted in one int16 frame ``[P, H, W]``."""
    n = len(x)
    return _count_ranges(x, y, p, np.zeros(1, np.int64), np.full(1, n, np.int64), sensor_size)[0]


# --------------------------------------------------------------------------------------------
# Voxel grid
# --------------------------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True, inline="always")
def _voxel_time(t, k, n_bins, t0, span):  # pragma: no cover - compiled
    """Tonic's ts = n_bins * (t - t0) / span of event k, and its bin: trunc(ts), as numpy's astype(int)."""
    ts = n_bins * (np.float64(t[k]) - t0) / span if span != 0 else 0.0
    return ts, np.int64(ts)


@numba.njit(cache=True, nogil=True, inline="always")
def _voxel_share(t, p, k, n_bins, t0, span):  # pragma: no cover - compiled
    """Tonic's (bin, share, polarity) of event k."""
    ts, bin_ = _voxel_time(t, k, n_bins, t0, span)
    polarity = np.float64(p[k]) if p[k] != 0 else -1.0
    return bin_, ts - bin_, polarity


@numba.njit(cache=True, nogil=True)
def _voxel_grid(t, x, y, p, n_bins, W, H, out):  # pragma: no cover - compiled
    """Tonic's bilinear voxel grid into out[n_bins * H * W] (float64), in Tonic's order of sums:
    every event's left share, then every event's right share, each in event order."""
    n = t.shape[0]
    span, t0 = np.float64(t[n - 1] - t[0]), np.float64(t[0])
    for right in (False, True):
        for k in range(n):
            pixel = _pixel(x, y, p, k, W, H, 1)
            if pixel < 0:
                continue
            bin_, share, polarity = _voxel_share(t, p, k, n_bins, t0, span)
            if right:
                bin_ += 1
            value = polarity * share if right else polarity * (1.0 - share)
            if 0 <= bin_ < n_bins:
                out[bin_ * H * W + pixel] += value


@numba.njit(cache=True, nogil=True)
def _order_by_group(group, n_groups):  # pragma: no cover - compiled
    """``(order, bounds)``: the k with ``group[k] == g`` (-1: left out) are
    ``order[bounds[g]:bounds[g + 1]]``, in increasing k (a stable counting sort)."""
    bounds = np.zeros(n_groups + 1, np.int64)
    for k in range(group.shape[0]):
        if group[k] >= 0:
            bounds[group[k] + 1] += 1
    for g in range(n_groups):
        bounds[g + 1] += bounds[g]
    order = np.empty(bounds[n_groups], np.int64)
    fill = bounds[:-1].copy()
    for k in range(group.shape[0]):
        if group[k] >= 0:
            order[fill[group[k]]] = k
            fill[group[k]] += 1
    return order, bounds


@numba.njit(cache=True, nogil=True)
def _events_by_bin(t, n_bins, t0, span):  # pragma: no cover - compiled
    """``(order, bounds)``: the events of time bin b, for the bins -1 <= b < n_bins that have a
    share in the grid, are ``order[bounds[b + 1]:bounds[b + 2]]``, in event order. For sorted t
    ``order`` is empty: each bin is an index range, found by binary search."""
    n = t.shape[0]
    ascending = True
    for k in range(n - 1):  # from 0: see above _pixel
        if t[k + 1] < t[k]:
            ascending = False
            break
    if ascending:
        bounds = np.empty(n_bins + 2, np.int64)
        for g in range(n_bins + 2):
            lo, hi = 0, n
            while lo < hi:  # the first event of bin g - 1 or later
                mid = (lo + hi) // 2
                if _voxel_time(t, mid, n_bins, t0, span)[1] >= g - 1:
                    hi = mid
                else:
                    lo = mid + 1
            bounds[g] = lo
        return np.empty(0, np.int64), bounds
    group = np.empty(n, np.int64)
    for k in range(n):
        bin_ = _voxel_time(t, k, n_bins, t0, span)[1]
        group[k] = bin_ + 1 if -1 <= bin_ < n_bins else -1
    return _order_by_group(group, n_bins + 1)


@numba.njit(cache=True, nogil=True)
def _voxel_grid_by_plane(t, x, y, p, n_bins, W, H, rows, out):  # pragma: no cover - compiled
    """``_voxel_grid``'s sums for grids larger than the cache, one time bin (plane) after the
    other: plane b takes the left shares of bin b's events, then the right shares of bin b-1's,
    each in event order (Tonic's order of sums in every cell). Each bin's shares are first sorted
    (a stable counting sort) by stripe of ``rows`` rows, so that a plane's scattered adds go
    through it one cache-sized stripe after the other, where Tonic's jump across all of it."""
    n = t.shape[0]
    span, t0 = np.float64(t[n - 1] - t[0]), np.float64(t[0])
    order, bounds = _events_by_bin(t, n_bins, t0, span)
    stripes = (H + rows - 1) // rows
    stripe_of_row = (np.arange(H) // rows).astype(np.uint64)  # unsigned: see above _pixel
    longest = np.max(bounds[1:] - bounds[:-1])
    cell, key = np.empty(longest, np.int32), np.empty(longest, np.uint64)
    left, right = np.empty(longest, np.float64), np.empty(longest, np.float64)
    # this bin's and the previous bin's shares, by stripe: [starts[s]:starts[s + 1]]
    cells, cells_before = np.empty(longest, np.int32), np.empty(longest, np.int32)
    lefts, lefts_before = np.empty(longest, np.float64), np.empty(longest, np.float64)
    rights, rights_before = np.empty(longest, np.float64), np.empty(longest, np.float64)
    starts, starts_before = np.zeros(stripes + 1, np.int64), np.zeros(stripes + 1, np.int64)
    fill = np.empty(stripes, np.int64)
    for g in range(n_bins + 1):
        cells, cells_before = cells_before, cells
        lefts, lefts_before = lefts_before, lefts
        rights, rights_before = rights_before, rights
        starts, starts_before = starts_before, starts
        m = 0
        starts[:] = 0
        for j in range(np.uint64(bounds[g]), np.uint64(bounds[g + 1])):  # unsigned: see above _pixel
            k = np.uint64(order[j]) if order.shape[0] else j
            pixel = _pixel(x, y, p, k, W, H, 1)
            if pixel < 0:
                continue
            _, share, polarity = _voxel_share(t, p, k, n_bins, t0, span)
            cell[m], left[m], right[m] = pixel, polarity * (1.0 - share), polarity * share
            key[m] = stripe_of_row[np.uint64(y[k])]
            starts[key[m] + np.uint64(1)] += 1
            m += 1
        for s in range(stripes):
            starts[s + 1] += starts[s]
        fill[:] = starts[:stripes]
        for j in range(m):
            d = np.uint64(fill[key[j]])
            fill[key[j]] += 1
            cells[d], lefts[d], rights[d] = cell[j], left[j], right[j]
        if g == 0:  # bin -1 has only right shares, to plane 0
            continue
        base = (g - 1) * H * W
        for s in range(stripes):
            for j in range(np.uint64(starts[s]), np.uint64(starts[s + 1])):
                out[np.uint64(base + cells[j])] += lefts[j]
            for j in range(np.uint64(starts_before[s]), np.uint64(starts_before[s + 1])):
                out[np.uint64(base + cells_before[j])] += rights_before[j]


# Grids whose time bins are larger than this are summed by plane and stripe (``_voxel_grid_by_plane``):
# a 1280x720 bin is 7 MB, beyond a core's share of the L2 cache.
VOXEL_STRIPE_BYTES = 1 << 20


def to_voxel_grid(
    t: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    p: np.ndarray,
    sensor_size: SensorSize,
    n_time_bins: int,
    stripe_bytes: int = VOXEL_STRIPE_BYTES,
) -> np.ndarray:
    """Tonic's ``ToVoxelGrid`` (Zhu et al. 2019): float64 ``[n_time_bins, 1, H, W]``; polarity 0
    counts -1, the timestamps are spread over ``[0, n_time_bins]`` from ``t[0]`` to ``t[-1]``."""
    _require_y(y, "the voxel grid")
    W, H, P = (int(v) for v in sensor_size)
    if P != 2:
        raise ValueError(f"the voxel grid needs a sensor with two polarities, got sensor_size {tuple(sensor_size)}")
    if n_time_bins < 1:
        raise ValueError(f"n_time_bins must be positive, got {n_time_bins}")
    grid = np.zeros(n_time_bins * H * W, np.float64)
    if len(t) and stripe_bytes < H * W * 8 and H * W < 2**31:  # int32 cell indices in a plane
        _voxel_grid_by_plane(t, x, y, p, n_time_bins, W, H, max(1, stripe_bytes // (8 * W)), grid)
    elif len(t):
        _voxel_grid(t, x, y, p, n_time_bins, W, H, grid)
    return grid.reshape(n_time_bins, 1, H, W)


# --------------------------------------------------------------------------------------------
# Time surfaces
# --------------------------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _remember(t, x, y, p, start, stop, W, H, P, memory):  # pragma: no cover - compiled
    """memory[pixel] = t of the events start:stop in order (as int64, Tonic's cast): each pixel's last."""
    for k in range(np.uint64(start), np.uint64(stop)):  # unsigned: see above _pixel
        pixel = _pixel(x, y, p, k, W, H, P)
        if pixel >= 0:
            memory[pixel] = np.float64(np.int64(t[k]))


# Time surfaces are computed in pieces of this many values, so that numpy's exp reads them from the
# cache right after they were written (the surfaces of a 1280x720 sensor are 15 MB each).
_SURFACE_PIECE = 1 << 16

# exp(x) is exactly 0.0 in float64 for x below -745.14 (half the smallest subnormal). numpy's SIMD
# exp leaves that range (and -inf: pixels with no event yet) to a scalar path 6-20x slower, so
# cells whose exponent is surely below it (by a margin for rounding) get 0.0 without calling exp.
_EXP_IS_ZERO_BELOW = -760.0


@numba.njit(cache=True, nogil=True)
def _recent_cells(memory, oldest, values, positions, surface):  # pragma: no cover - compiled
    """values[:n] = the memory cells at or after ``oldest``, positions[:n] their indices (returns
    n); the surface is zeroed on the way, for ``_fill_surface`` to write the n cells."""
    n = 0
    for i in range(memory.shape[0]):  # branch-free: which cells count is unpredictable
        values[n] = memory[i]
        positions[n] = i
        n += memory[i] >= oldest
        surface[i] = 0.0
    return n


@numba.njit(cache=True, nogil=True)
def _fill_surface(values, positions, n, surface):  # pragma: no cover - compiled
    for j in range(n):
        surface[positions[j]] = values[j]


def timesurface_ends(n_surfaces: int, dt: float, start_t) -> np.ndarray:
    """Tonic's reference times (i + 1) * dt + start_t of the surfaces, in its arithmetic, as float64."""
    return (np.arange(1, n_surfaces + 1) * dt + start_t).astype(np.float64)


def to_timesurface(
    t: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    p: np.ndarray,
    sensor_size: SensorSize,
    dt: float,
    tau: float,
    overlap: float = 0,
    include_incomplete: bool = False,
) -> np.ndarray:
    """Tonic's ``ToTimesurface`` (Lagorce et al. 2016, over the whole sensor): float64
    ``[S, P, H, W]``, surface i = exp(-(t_end_i - last timestamp of each pixel) / tau) at the end
    ``t_end_i = (i + 1) * dt + t_first`` of the i-th ``dt`` window (0 where no event yet).
    ``t_first`` is the first event of the first window, t[0] when that window is empty (unsorted t:
    Tonic raises)."""
    _require_y(y, "the time surface")
    W, H, P = (int(v) for v in sensor_size)
    if not dt > 0:
        raise ValueError(f"dt must be positive, got {dt}")
    if len(t) == 0:
        return np.zeros((1, P, H, W))
    t, x, y, p = _contiguous(t, x, y, p)
    starts, stops = slice_by_time(t, dt, overlap, include_incomplete)
    # Tonic's reference time is the first event of the first window (t[0] unless t is unsorted).
    start_t = t[starts[0]] if stops[0] > starts[0] else t[0]
    ends = timesurface_ends(len(starts), dt, start_t)
    out = np.empty((len(starts), P * H * W))
    memory = np.full(P * H * W, -np.inf)  # each pixel's last timestamp so far
    tau = float(tau)
    values = np.empty(min(_SURFACE_PIECE, P * H * W))
    positions = np.empty(len(values), np.int64)
    with np.errstate(over="ignore"):  # a pixel whose last event is after the window end (unsorted t): inf
        for i, surface in enumerate(out):
            _remember(t, x, y, p, starts[i], stops[i], W, H, P, memory)
            # Cells older than this have exp(...) = 0.0 (all cells are computed for tau <= 0 or NaN).
            # The bound is rounded by an ulp of the end time: tau must dwarf it for the margin to hold.
            oldest = ends[i] + _EXP_IS_ZERO_BELOW * tau if tau > abs(ends[i]) * 2.0**-50 else -np.inf
            for lo in range(0, len(surface), _SURFACE_PIECE):
                piece = surface[lo : lo + _SURFACE_PIECE]
                n = _recent_cells(memory[lo : lo + _SURFACE_PIECE], oldest, values, positions, piece)
                # Tonic's exp(-(end - memory) / tau) in numpy: memory - end is -(end - memory) exactly.
                np.subtract(values[:n], ends[i], out=values[:n])
                np.divide(values[:n], tau, out=values[:n])
                np.exp(values[:n], out=values[:n])
                _fill_surface(values, positions, n, piece)
    return out.reshape(len(starts), P, H, W)


# --------------------------------------------------------------------------------------------
# Averaged time surfaces (HATS)
# --------------------------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _group_events(x, y, p, W, H, P, cell_size):  # pragma: no cover - compiled
    """Events grouped by (cell, polarity) in event order (a counting sort): ``order`` and the
    groups' ``bounds``; Tonic's polarity index is max(0, p); events outside the sensor left out."""
    n = x.shape[0]
    cells_x = (W + cell_size - 1) // cell_size
    n_groups = cells_x * ((H + cell_size - 1) // cell_size) * P
    group = np.empty(n, np.int64)
    for k in range(n):
        xk, yk, pk = np.int64(x[k]), np.int64(y[k]), max(np.int64(0), np.int64(p[k]))
        if xk < 0 or xk >= W or yk < 0 or yk >= H or pk >= P:
            group[k] = -1
        else:
            group[k] = ((yk // cell_size) * cells_x + xk // cell_size) * P + pk
    return _order_by_group(group, n_groups)


@numba.njit(cache=True, nogil=True)
def _float32_block_sum(a, lo, hi):  # pragma: no cover - compiled
    """numpy's float32 sum of at most 128 contiguous values: eight running sums, then the rest."""
    n = hi - lo
    if n < 8:
        total = np.float32(0)
        for k in range(lo, hi):
            total += a[k]
        return total
    r = a[lo : lo + 8].copy()
    k = lo + 8
    while k < hi - n % 8:
        for j in range(8):
            r[j] += a[k + j]
        k += 8
    total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    while k < hi:
        total += a[k]
        k += 1
    return total


@numba.njit(cache=True, nogil=True)
def _numpy_float32_sum(a, lo, hi):  # pragma: no cover - compiled
    """sum(a[lo:hi]) in float32 as numpy sums a contiguous float32 axis: halves (a multiple of 8
    long) summed pairwise down to blocks of 128. Numpy recurses; numba compiles this loop."""
    spans = np.empty((128, 3), np.int64)  # (lo, hi, halves done) of the pending halves
    partial = np.empty(128, np.float32)
    depth, results = 0, 0
    spans[0, 0], spans[0, 1], spans[0, 2] = lo, hi, 0
    while depth >= 0:
        begin, end, done = spans[depth, 0], spans[depth, 1], spans[depth, 2]
        if end - begin <= 128:
            partial[results] = _float32_block_sum(a, begin, end)
            results += 1
            depth -= 1
            continue
        if done == 2:
            partial[results - 2] = partial[results - 2] + partial[results - 1]
            results -= 1
            depth -= 1
            continue
        half = (end - begin) // 2
        half -= half % 8
        spans[depth, 2] = done + 1
        depth += 1
        if done == 0:
            spans[depth, 0], spans[depth, 1], spans[depth, 2] = begin, begin + half, 0
        else:
            spans[depth, 0], spans[depth, 1], spans[depth, 2] = begin + half, end, 0
    return partial[0]


@numba.njit(cache=True, nogil=True)
def _averaged_surfaces_walk(
    order, bounds, t32, t_start, x, y, rho, t_sorted, state, end_state, differences, decays, event_sums, hist, accumulate
):  # pragma: no cover - compiled
    """Walk Tonic's pairs (event i, earlier event j of its cell and polarity within rho and with
    t_j >= max(0, t_i - time_window)) from ``state`` = (group, position, window start).

    First pass (``accumulate`` False): write each pair's t_i - t_j to ``differences`` until it is
    full, stopping before the event that would not fit; returns that stop and the pair count.
    Second pass (True), after numpy turned them into ``decays``: sum them as Tonic's np.sum does
    (per event: the pairs in order, then 1 at the centre; per group: the events in order, then
    / count). Tonic sums the layers of a [K, size, size] stack: one after the other, except for
    surfaces of one pixel, where numpy sums a contiguous axis pairwise (``event_sums`` holds those).
    """
    size = 2 * rho + 1
    surface = np.zeros((size, size), np.float32)
    g, i, first = state[0], state[1], state[2]
    used = 0
    n_groups = bounds.shape[0] - 1
    while g < n_groups:
        lo, hi = bounds[g], bounds[g + 1]
        if accumulate and g == end_state[0] and i == end_state[1]:
            break
        if lo + i >= hi:  # end of group
            if accumulate and hi > lo:
                if rho == 0:
                    hist[g, 0, 0] = _numpy_float32_sum(event_sums, lo, hi)
                hist[g] /= np.float32(hi - lo)
            g, i, first = g + 1, 0, 0
            continue
        k = order[lo + i]
        if t_sorted:
            while first < i and t32[order[lo + first]] < t_start[k]:
                first += 1
        else:
            first = 0
        # Count this event's pairs first so that the first pass stops on an event boundary.
        pairs = 0
        for m in range(lo + first, lo + i):
            j = order[m]
            if (
                abs(np.int64(x[j]) - np.int64(x[k])) <= rho
                and abs(np.int64(y[j]) - np.int64(y[k])) <= rho
                and t32[j] >= t_start[k]
            ):
                pairs += 1
        if not accumulate and used + pairs > differences.shape[0]:
            break
        if accumulate:
            if rho == 0:
                layers = np.empty(pairs + 1, np.float32)
                layers[:pairs] = decays[used : used + pairs]
                layers[pairs] = 1
                event_sums[lo + i] = _numpy_float32_sum(layers, 0, pairs + 1)
                used += pairs
                i += 1
                continue
            surface[:] = 0
        for m in range(lo + first, lo + i):
            j = order[m]
            dx, dy = np.int64(x[j]) - np.int64(x[k]), np.int64(y[j]) - np.int64(y[k])
            if abs(dx) <= rho and abs(dy) <= rho and t32[j] >= t_start[k]:
                if accumulate:
                    surface[dy + rho, dx + rho] += decays[used]
                else:
                    differences[used] = t32[k] - t32[j]
                used += 1
        if accumulate:
            surface[rho, rho] += np.float32(1)
            hist[g] += surface
        i += 1
    return np.array([g, i, first]), used


def to_averaged_timesurface(
    t: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    p: np.ndarray,
    sensor_size: SensorSize,
    cell_size: int = 10,
    surface_size: int = 5,
    time_window: float = 1e3,
    tau: float = 100,
    decay: str = "exp",
    pair_buffer: int = 1 << 20,
) -> np.ndarray:
    """Tonic's ``ToAveragedTimesurface`` (HATS, Sironi et al. 2018): float32
    ``[n_cells, P, surface_size, surface_size]``, in Tonic's float32 arithmetic.

    Each event's surface sums, over the earlier events of its cell and polarity (in event order)
    within ``surface_size // 2`` pixels and with ``t_j >= max(0, t_i - time_window)``,
    exp(-(t_i - t_j) / tau) (``decay="lin"``: 1 - (t_i - t_j) / (3 tau)), plus 1 at the centre;
    a cell's histogram is the mean of its events' surfaces. Pairs are found in compiled code and
    their decays computed by numpy in batches of ``pair_buffer`` (numpy's float32 exp, as Tonic's).
    """
    _require_y(y, "the averaged time surface")
    W, H, P = (int(v) for v in sensor_size)
    if surface_size > cell_size or surface_size % 2 == 0:
        raise ValueError(f"surface_size must be odd and at most cell_size, got {surface_size} and {cell_size}")
    if decay not in ("exp", "lin"):
        raise ValueError(f"decay must be 'exp' or 'lin', got {decay!r}")
    n_cells = math.ceil(W / cell_size) * math.ceil(H / cell_size)
    hist = np.zeros((n_cells * P, surface_size, surface_size), np.float32)
    if len(t):
        x, y, p = _contiguous(x, y, p)
        order, bounds = _group_events(x, y, p, W, H, P, cell_size)
        t32 = t.astype(np.float32)
        # Tonic's max(0, t_i - time_window) on float32 t_i, with numpy's promotion of time_window.
        t_start = np.maximum(0, t32 - time_window)
        t_sorted = bool(np.all(t32[1:] >= t32[:-1]))
        rho = surface_size // 2
        state = np.zeros(3, np.int64)
        differences = np.empty(pair_buffer, np.float32)
        event_sums = np.empty(len(order) if rho == 0 else 0, np.float32)
        while state[0] < len(bounds) - 1:
            end_state, used = _averaged_surfaces_walk(
                order, bounds, t32, t_start, x, y, rho, t_sorted, state, state, differences, differences, event_sums, hist, False
            )
            if used == 0 and (end_state == state).all():  # one event has more pairs than the buffer
                differences = np.empty(2 * len(differences), np.float32)
                continue
            d = differences[:used]
            with np.errstate(over="ignore"):  # later events before earlier ones (unsorted t): inf
                decays = (np.exp(-d / tau) if decay == "exp" else -d / (3 * tau) + 1).astype(np.float32)
            _averaged_surfaces_walk(
                order, bounds, t32, t_start, x, y, rho, t_sorted, state, end_state, differences, decays, event_sums, hist, True
            )
            state = end_state
    return hist.reshape(n_cells, P, surface_size, surface_size)


# --------------------------------------------------------------------------------------------
# Bina-Rep
# --------------------------------------------------------------------------------------------


def to_bina_rep(event_frames: np.ndarray, n_frames: int = 1, n_bits: int = 8) -> np.ndarray:
    """Tonic's ``ToBinaRep`` (Barchid et al. 2022): frames ``[n_frames * n_bits, P, H, W]`` ->
    float32 ``[n_frames, P, H, W]``, each group of n_bits binary frames read as an n-bit number
    (first frame most significant) / (2**n_bits - 1), summed in Tonic's float32 order."""
    event_frames = np.asarray(event_frames)
    if event_frames.ndim != 4:
        raise ValueError(f"event_frames must be [T, P, H, W], got shape {event_frames.shape}")
    if n_frames < 1 or n_bits < 2:
        raise ValueError(f"need n_frames >= 1 and n_bits >= 2, got {n_frames} and {n_bits}")
    if event_frames.shape[0] != n_frames * n_bits:
        raise ValueError(
            f"{n_frames} bina-rep frames of {n_bits} bits need {n_frames * n_bits} event frames, got {event_frames.shape[0]}"
        )
    groups = (event_frames > 0).reshape(n_frames, n_bits, *event_frames.shape[1:])
    out = np.zeros((n_frames, *event_frames.shape[1:]), np.float32)
    for bit in range(n_bits):
        out += np.float32(2.0 ** (n_bits - 1 - bit)) * groups[:, bit]
    return out / (2**n_bits - 1)
