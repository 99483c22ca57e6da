"""Event filters with Tonic 1.7's rules: pure kernels over event columns, returning keep masks.

Each kernel takes the coordinate and time columns (any numeric dtype) and its parameters, and
returns a boolean mask of the events to keep, so the caller keeps the events' own container
(a Tonic structured array or our ``{"t","x","y","p"}`` dict) and field dtypes.

Tonic sizes its per-pixel memories from the events themselves (``width = max(x) + 1``) and indexes
them with Python's rules, so a negative coordinate ``-width <= x < 0`` reads and writes the pixel
``width + x``; the kernels do the same, so results equal Tonic's on every input where it returns.
Where Tonic raises (no events; a coordinate below ``-width``, which it cannot index), the kernels
keep nothing of those events: no events give an empty mask, an unindexable event is dropped and
leaves the memory untouched.
"""

from __future__ import annotations

import numba
import numpy as np


def _memory_size(values: np.ndarray) -> int:
    """Tonic's memory extent along one axis: the largest coordinate + 1 (at least 0)."""
    return max(int(values.max()) + 1, 0)


def _as_index(values: np.ndarray) -> np.ndarray:
    """Coordinates as Tonic indexes with them: ``int(value)``, truncation toward zero."""
    return values.astype(np.int64)


@numba.njit(cache=True, nogil=True, inline="always")
def _wrap(index, size):  # pragma: no cover - compiled
    """Python's index rule: -size <= index < size addresses index % size; else -1 (unindexable)."""
    if index < -size or index >= size:
        return -1
    return index + size if index < 0 else index


@numba.njit(cache=True, nogil=True)
def _denoise(x, y, t, width, height, filter_time, initial):  # pragma: no cover - compiled
    memory = np.full((max(width, 1), max(height, 1)), initial)
    keep = np.zeros(len(t), dtype=np.bool_)
    for k in range(len(t)):
        i = _wrap(x[k], width)
        j = _wrap(y[k], height)
        if i < 0 or j < 0:
            continue
        now = t[k]
        memory[i, j] = now + filter_time
        # Tonic checks the raw coordinate against the borders, then indexes the neighbour.
        keep[k] = (
            (x[k] > 0 and memory[i - 1, j] > now)
            or (x[k] < width - 1 and memory[_wrap(x[k] + 1, width), j] > now)
            or (y[k] > 0 and memory[i, j - 1] > now)
            or (y[k] < height - 1 and memory[i, _wrap(y[k] + 1, height)] > now)
        )
    return keep


def denoise_mask(x: np.ndarray, y: np.ndarray, t: np.ndarray, filter_time: float, memory_of_time_zero: bool = True) -> np.ndarray:
    """Keep an event when one of its 4 neighbours fired less than ``filter_time`` before it.

    Tonic's rule, in event order: every event (kept or not) sets its pixel's memory to
    ``t + filter_time``; an event is kept when a neighbour's memory exceeds its ``t``. Tonic
    starts every pixel's memory at ``filter_time``, as if all pixels fired at t = 0, so early
    events survive without any neighbour (``memory_of_time_zero=True``, the default);
    ``memory_of_time_zero=False`` starts the memories at -inf: only real neighbours count.
    """
    if len(t) == 0:
        return np.zeros(0, dtype=bool)
    xi, yi = _as_index(x), _as_index(y)
    # Tonic adds filter_time to the event's own time scalar: float timestamps keep their precision.
    offset = t.dtype.type(filter_time) if t.dtype.kind == "f" else filter_time
    initial = float(filter_time) if memory_of_time_zero else -np.inf
    return _denoise(xi, yi, t, _memory_size(xi), _memory_size(yi), offset, initial)


@numba.njit(cache=True, nogil=True)
def _refractory(x, y, t, width, height, period, initial, remember_dropped):  # pragma: no cover - compiled
    memory = np.full((max(width, 1), max(height, 1)), initial)
    keep = np.zeros(len(t), dtype=np.bool_)
    for k in range(len(t)):
        i = _wrap(x[k], width)
        j = _wrap(y[k], height)
        if i < 0 or j < 0:
            continue
        keep[k] = t[k] - memory[i, j] > period
        if keep[k] or remember_dropped:
            memory[i, j] = t[k]
    return keep


def refractory_period_mask(
    x: np.ndarray, y: np.ndarray, t: np.ndarray, refractory_period: float, tonic_rule: bool = True
) -> np.ndarray:
    """Keep an event when its pixel's previous event lies more than ``refractory_period`` before it.

    Tonic's rule (``tonic_rule=True``): every event, kept or dropped, restarts its pixel's
    refractory period, and the memories start at ``-refractory_period``, so a pixel's first event
    at t <= 0 is dropped. ``tonic_rule=False``: only kept events start a refractory period and a
    pixel's first event is always kept.
    """
    if len(t) == 0:
        return np.zeros(0, dtype=bool)
    xi, yi = _as_index(x), _as_index(y)
    initial = -float(refractory_period) if tonic_rule else -np.inf
    return _refractory(
        xi, yi, t.astype(np.float64), _memory_size(xi), _memory_size(yi), float(refractory_period), initial, tonic_rule
    )


@numba.njit(cache=True, nogil=True)
def _decimate(pixel, n):  # pragma: no cover - compiled
    counts = np.zeros(pixel.max() + 1 if len(pixel) else 1, dtype=np.int64)
    keep = np.zeros(len(pixel), dtype=np.bool_)
    for k in range(len(pixel)):
        if pixel[k] < 0:
            continue
        counts[pixel[k]] += 1
        if counts[pixel[k]] >= n:
            counts[pixel[k]] = 0
            keep[k] = True
    return keep


def decimation_mask(x: np.ndarray, y: np.ndarray | None, n: int) -> np.ndarray:
    """Keep every ``n``-th event of each pixel (of each x on 1-D sensors), counted in event order."""
    if n < 1:
        raise ValueError(f"Decimation needs n >= 1, got {n}")
    if len(x) == 0:
        return np.zeros(0, dtype=bool)
    xi = _as_index(x)
    width = _memory_size(xi)
    column = _wrap_array(xi, width)
    if y is None:
        return _decimate(column, n)
    yi = _as_index(y)
    height = _memory_size(yi)
    row = _wrap_array(yi, height)
    pixel = np.where((column < 0) | (row < 0), -1, column * max(height, 1) + row)
    return _decimate(pixel, n)


def _wrap_array(index: np.ndarray, size: int) -> np.ndarray:
    """Vectorised ``_wrap``: Python's index rule, -1 where the index is out of range."""
    wrapped = np.where(index < 0, index + size, index)
    return np.where((index < -size) | (index >= size), -1, wrapped)


def hot_pixels(x: np.ndarray, y: np.ndarray, t: np.ndarray, hot_pixel_frequency: float) -> np.ndarray:
    """Pixels ``[[x, y], ...]`` with more events than ``hot_pixel_frequency`` (Hz) x duration (µs).

    Tonic's rule: the duration is the last event's t minus the first's (not max - min), and pixels
    are counted on the grid ``0..max(x)`` x ``0..max(y)`` (negative coordinates are not counted).
    """
    if len(t) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    width, height = _memory_size(_as_index(x)), _memory_size(_as_index(y))
    inside = (x >= 0) & (y >= 0)
    if width == 0 or height == 0 or not inside.any():
        return np.zeros((0, 2), dtype=np.int64)
    column = np.floor(x[inside]).astype(np.int64)
    row = np.floor(y[inside]).astype(np.int64)
    counts = np.bincount(column * height + row, minlength=width * height).reshape(width, height)
    limit = hot_pixel_frequency * (t[-1] - t[0]) * 1e-6
    return np.argwhere(counts > limit)


def pixel_mask(x: np.ndarray, y: np.ndarray, coordinates) -> np.ndarray:
    """True for the events on one of the pixels ``coordinates`` (pairs x, y)."""
    pixels = np.asarray(coordinates, dtype=np.float64).reshape(-1, 2)
    if len(pixels) == 0 or len(x) == 0:
        return np.zeros(len(x), dtype=bool)
    # One key per (x, y) pair: the pixel lists are short, the events long, so a sorted lookup.
    pairs = np.unique(pixels, axis=0)
    keys = pairs[:, 0] * 2.0**32 + pairs[:, 1]
    event_keys = x.astype(np.float64) * 2.0**32 + y.astype(np.float64)
    return np.isin(event_keys, keys)


def drop_event_mask(n: int, probability: float, rng: np.random.Generator) -> np.ndarray:
    """Keep mask dropping ``int(probability * n + 0.5)`` of ``n`` events, chosen uniformly."""
    keep = np.ones(n, dtype=bool)
    keep[rng.choice(n, int(probability * n + 0.5), replace=False, shuffle=False)] = False
    return keep


def drop_by_time_mask(t: np.ndarray, duration_ratio: float, rng: np.random.Generator) -> np.ndarray:
    """Keep mask dropping the events of a random interval ``duration_ratio * max(t)`` long.

    Tonic's rule: the recording spans [0, max(t)] (not from its first event); the interval starts
    uniformly in [0, max(t) - its length] and both its ends are dropped."""
    t = np.ascontiguousarray(t)  # read three times: contiguous after the first
    end = t.max()
    duration = (end - 0.0) * duration_ratio
    start = rng.uniform(0.0, end - duration)
    dropped = t >= start
    dropped &= t <= start + duration
    return np.invert(dropped, out=dropped)


def drop_by_area_mask(
    x: np.ndarray, y: np.ndarray, sensor_size: tuple, area_ratio: float, rng: np.random.Generator
) -> np.ndarray:
    """Keep mask dropping the events in a box of ``area_ratio`` x the sensor's width and height,
    placed uniformly on the sensor (x first, then y, as Tonic draws them)."""
    width, height = int(sensor_size[0] * area_ratio), int(sensor_size[1] * area_ratio)
    x0 = rng.integers(0, sensor_size[0] - width)
    y0 = rng.integers(0, sensor_size[1] - height)
    x, y = np.ascontiguousarray(x), np.ascontiguousarray(y)  # each read twice
    dropped = x >= x0
    dropped &= y >= y0
    dropped &= x <= x0 + width - 1
    dropped &= y <= y0 + height - 1
    return np.invert(dropped, out=dropped)


def stable_order(t: np.ndarray) -> np.ndarray:
    """``np.argsort(t, kind="stable")``. For integers whose range times the count fits 63 bits,
    by one sort of unique keys ``(t - min) << bits | index`` (their order is the stable one, and
    numpy's default sort of int64 is several times faster than its stable sort)."""
    n = len(t)
    if n > 1 and t.dtype.kind in "iu" and t.dtype != np.uint64:
        low, high = int(t.min()), int(t.max())
        bits = (n - 1).bit_length()
        if high - low < 1 << (63 - bits):
            keys = t.astype(np.int64)
            keys -= low
            keys <<= bits
            keys |= np.arange(n)
            keys.sort()
            keys &= (1 << bits) - 1
            return keys
    return np.argsort(t, kind="stable")


def merge_sorted_times(t: np.ndarray, added: np.ndarray) -> np.ndarray:
    """The order (indices into ``t`` then ``added``, concatenated) that sorts both by time stably,
    as ``argsort(concatenate((t, added)), kind="stable")``; when ``t`` is already sorted, by
    sorting only ``added`` and merging (the usual case: noise added to a recording)."""
    combined = np.concatenate((t, added))
    if len(t) < 2 or not np.all(t[1:] >= t[:-1]):
        return np.argsort(combined, kind="stable")
    added_order = np.argsort(added, kind="stable")
    # Each added event goes after the recorded ones with the same time (stable: t's come first).
    places = np.searchsorted(t, added[added_order], side="right") + np.arange(len(added))
    order = np.empty(len(combined), dtype=np.int64)
    order[places] = len(t) + added_order
    recorded = np.ones(len(combined), dtype=bool)
    recorded[places] = False
    order[recorded] = np.arange(len(t))
    return order


def gaussian_shifts(n: int, covariance: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` draws (dx, dy) of a zero-mean 2-D Gaussian with ``covariance`` (positive
    semi-definite): standard normals through the covariance's SVD square root, as
    ``Generator.multivariate_normal`` draws them, without its (n, 2) bookkeeping (1.5x faster)."""
    _, singular, rows = np.linalg.svd(np.asarray(covariance, dtype=np.float64))
    root = np.sqrt(singular)[:, None] * rows
    z = rng.standard_normal((2, n))
    return root[0, 0] * z[0] + root[1, 0] * z[1], root[0, 1] * z[0] + root[1, 1] * z[1]
